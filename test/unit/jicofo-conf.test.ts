import { describe, expect, it } from 'vitest';
import { readAutoOwner, setAutoOwner } from '../../src/jicofo/jicofo-conf.js';

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
