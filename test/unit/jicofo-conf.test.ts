import { describe, expect, it } from 'vitest';
import { readAutoOwner, readJicofoAuthentication, setAutoOwner, setJicofoAuthentication } from '../../src/jicofo/jicofo-conf.js';

const stock = `jicofo {
  xmpp: {
    client: {
      client-proxy: focus.meet.test
    }
  }
}
`;

describe('jicofo.conf enable-auto-owner', () => {
  it('appends the dotted path to a stock file and keeps every other byte', () => {
    const out = setAutoOwner(stock, false);
    expect(out.startsWith(stock)).toBe(true);
    expect(out.slice(stock.length)).toBe(
      '# jitsi-jwt: moderators come from the token (context.user.moderator or affiliation), not from joining first\njicofo.conference.enable-auto-owner = false\n',
    );
    expect(readAutoOwner(out)).toBe(false);
    expect(setAutoOwner(out, false)).toBe(out);
  });

  it.each([
    ['jicofo {\n  conference: {\n    enable-auto-owner: true\n  }\n}\n', 'jicofo {\n  conference: {\n    enable-auto-owner: false\n  }\n}\n'],
    ['jicofo.conference.enable-auto-owner = true # keep\n', 'jicofo.conference.enable-auto-owner = false # keep\n'],
    ['jicofo {\r\n  conference {\r\n    "enable-auto-owner" = "true"\r\n  }\r\n}\r\n', 'jicofo {\r\n  conference {\r\n    "enable-auto-owner" = false\r\n  }\r\n}\r\n'],
  ])('changes the value in place (%#)', (before, after) => {
    expect(setAutoOwner(before, false)).toBe(after);
  });

  it('reads the default as unset, and keeps CRLF when appending', () => {
    expect(readAutoOwner(stock)).toBeUndefined();
    expect(setAutoOwner('jicofo {\r\n}', false)).toBe('jicofo {\r\n}\r\n# jitsi-jwt: moderators come from the token (context.user.moderator or affiliation), not from joining first\r\njicofo.conference.enable-auto-owner = false\r\n');
  });
});

describe("jicofo.conf authentication (the secure domain guide's)", () => {
  const secure = `jicofo {
  authentication: {
    enabled: true
    type: XMPP
    login-url: meet.test
  }
  xmpp: {
    client: {
      client-proxy: focus.meet.test
      # enabled: true in a comment or another block is not it
      enabled: true
    }
  }
}
`;

  it('turns it off in place, keeping every other byte, and reads it back', () => {
    expect(readJicofoAuthentication(secure)).toBe(true);
    const out = setJicofoAuthentication(secure, false);
    expect(out).toBe(secure.replace('    enabled: true\n    type: XMPP', '    enabled: false\n    type: XMPP'));
    expect(readJicofoAuthentication(out)).toBe(false);
    expect(setJicofoAuthentication(out, false)).toBe(out);
  });

  it.each([
    ['jicofo.authentication.enabled = true\n', 'jicofo.authentication.enabled = false\n'],
    ['jicofo {\n  authentication { enabled = "true", type = XMPP }\n}\n', 'jicofo {\n  authentication { enabled = "false", type = XMPP }\n}\n'],
    ['jicofo {\n  "authentication": {\n    "enabled": true\n  }\n}\n', 'jicofo {\n  "authentication": {\n    "enabled": false\n  }\n}\n'],
  ])('in other spellings: %j', (before, after) => {
    expect(setJicofoAuthentication(before, false)).toBe(after);
  });

  it('reads past braces in strings and keys in comments or nested objects inside the section', () => {
    const tricky = `jicofo {
  authentication: {
    login-url: "meet.test/{room}"
    # enabled: false
    nested { enabled: false }
    enabled: true
  }
}
`;
    expect(readJicofoAuthentication(tricky)).toBe(true);
    expect(setJicofoAuthentication(tricky, false)).toBe(tricky.replace('    enabled: true\n', '    enabled: false\n'));
    const commented = 'jicofo {\n  authentication: {\n    # enabled: true\n    type: XMPP\n  }\n}\n';
    expect(readJicofoAuthentication(commented)).toBeUndefined();
    expect(readJicofoAuthentication('jicofo {\n  note: "authentication { enabled: true }"\n}\n')).toBeUndefined();
  });

  it('leaves a file without an authentication section alone', () => {
    expect(readJicofoAuthentication(stock)).toBeUndefined();
    expect(setJicofoAuthentication(stock, false)).toBe(stock);
  });
});
