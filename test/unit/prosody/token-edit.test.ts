import { structuredPatch } from 'diff';
import { describe, expect, it } from 'vitest';
import { parseDomainConfig, readTokenConfig } from '../../../src/prosody/domain-config.js';
import {
  applyEdits,
  DomainConfigError,
  editForTokenAuth,
  tokenAuthProblems,
  type TokenAuthSettings,
} from '../../../src/prosody/token-edit.js';
import { JitsiJwtError } from '../../../src/errors.js';
import { EXIT, exitCodeFor } from '../../../src/errors.js';
import { DOMAIN, HAND_EDITED, OLD_GENERATION, replaceLines, settings, stock } from './fixtures.js';

/** The -/+ lines of a diff, in order: what a reviewer of the change would see. */
function changedLines(before: string, after: string): string[] {
  return structuredPatch('a', 'b', before, after, '', '', { context: 0 }).hunks
    .flatMap((h) => h.lines)
    .filter((l) => l.startsWith('-') || l.startsWith('+'));
}

function replaceOnce(text: string, from: string, to: string): string {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) throw new Error(`fixture text ${JSON.stringify(from)} is not there exactly once`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/** Edits, then checks what every result must satisfy. */
function edit(text: string, s: TokenAuthSettings) {
  const result = editForTokenAuth(text, s);
  // The edits are the whole story: applying them to the input gives the output.
  expect(applyEdits(text, result.edits)).toBe(result.text);
  for (let i = 1; i < result.edits.length; i++) expect(result.edits[i].range[0]).toBeGreaterThanOrEqual(result.edits[i - 1].range[1]);
  // Secrets stay out of descriptions (they end up in plans and logs).
  if (s.appSecret.length >= 4) for (const e of result.edits) expect(e.description).not.toContain(s.appSecret);
  // Converged: nothing left to do, and a second run changes nothing.
  expect(tokenAuthProblems(result.text, s)).toEqual([]);
  const again = editForTokenAuth(result.text, s);
  expect(again.edits).toEqual([]);
  expect(again.text).toBe(result.text);
  return result;
}

const STOCK_TOKEN_LINES: Array<[string, string]> = [
  ['    authentication = "jitsi-anonymous" -- do not delete me', '    authentication = "token" -- do not delete me'],
  ['    --app_id="example_app_id"', '    app_id="my_backend"'],
  ['    --app_secret="example_app_secret"', '    app_secret="s3cr3t-value"\n    allow_empty_token = false\n    enable_domain_verification = true'],
  ['        --"token_verification";', '        "token_verification";'],
];

describe('editForTokenAuth on Jitsi\'s stock files', () => {
  it.each(['2024', '2026'] as const)('%s: makes exactly the jitsi-meet-tokens edits plus our two options', (generation) => {
    const input = stock(generation);
    const result = edit(input, settings());
    expect(result.text).toBe(replaceLines(input, STOCK_TOKEN_LINES));
    expect(changedLines(input, result.text)).toEqual([
      '-    authentication = "jitsi-anonymous" -- do not delete me',
      '+    authentication = "token" -- do not delete me',
      '-    --app_id="example_app_id"',
      '-    --app_secret="example_app_secret"',
      '+    app_id="my_backend"',
      '+    app_secret="s3cr3t-value"',
      '+    allow_empty_token = false',
      '+    enable_domain_verification = true',
      '-        --"token_verification";',
      '+        "token_verification";',
    ]);
    expect(result.edits.map((e) => e.description)).toEqual([
      `VirtualHost "${DOMAIN}": authentication = "token"`,
      `VirtualHost "${DOMAIN}": uncomment app_id and set it "my_backend"`,
      `VirtualHost "${DOMAIN}": uncomment app_secret and set it (secret hidden)`,
      `VirtualHost "${DOMAIN}": add allow_empty_token = false`,
      `VirtualHost "${DOMAIN}": add enable_domain_verification = true`,
      `Component "conference.${DOMAIN}": uncomment "token_verification"`,
    ]);
    expect(result.warnings).toEqual([]);
  });

  it('leaves the disabled jigasi host and every other section alone', () => {
    const input = stock('2024');
    const result = edit(input, settings());
    const jigasiAt = input.indexOf('VirtualHost "jigasi.meet.jitsi"');
    expect(result.text.slice(result.text.indexOf('VirtualHost "jigasi.meet.jitsi"'))).toBe(input.slice(jigasiAt));
    for (const e of result.edits) expect(e.range[1]).toBeLessThan(input.indexOf(`Component "breakout.${DOMAIN}"`));
  });

  it('writes issuers, audiences and token_affiliation where asked', () => {
    const input = stock('2026');
    const result = edit(input, settings({
      allowEmptyToken: true,
      enableDomainVerification: false,
      issuers: ['my_backend', 'other'],
      audiences: ['jitsi'],
      moderatorFromToken: true,
    }));
    const expected = replaceLines(input, [
      STOCK_TOKEN_LINES[0],
      STOCK_TOKEN_LINES[1],
      ['    --app_secret="example_app_secret"', [
        '    app_secret="s3cr3t-value"',
        '    allow_empty_token = true',
        '    enable_domain_verification = false',
        '    asap_accepted_issuers = { "my_backend", "other" }',
        '    asap_accepted_audiences = { "jitsi" }',
      ].join('\n')],
      STOCK_TOKEN_LINES[3],
    ]);
    // "muc_rate_limit" is in several components: the new entry goes only into the conference MUC.
    expect(result.text).toBe(replaceOnce(expected,
      '        "token_verification";\n        "muc_rate_limit";\n    }\n',
      '        "token_verification";\n        "muc_rate_limit";\n        "token_affiliation";\n    }\n'));
  });

  it('replaces issuers and audiences that differ, and only their values', () => {
    const converged = edit(stock('2024'), settings({ issuers: ['a'], audiences: ['b'] })).text;
    const changed = edit(converged, settings({ issuers: ['a', 'c'], audiences: ['b'] }));
    expect(changedLines(converged, changed.text)).toEqual([
      '-    asap_accepted_issuers = { "a" }',
      '+    asap_accepted_issuers = { "a", "c" }',
    ]);
  });

  it('turns the room check back off into the stock commented line', () => {
    const input = stock('2024');
    const on = edit(input, settings()).text;
    const off = edit(on, settings({ roomCheck: false }));
    expect(changedLines(on, off.text)).toEqual(['-        "token_verification";', '+        --"token_verification";']);
    // and from the stock file, room check off touches nothing in the MUC
    const direct = edit(input, settings({ roomCheck: false }));
    expect(direct.text).toBe(off.text);
  });

  it('removes token_affiliation when moderatorFromToken is false, and leaves it when undefined', () => {
    const withAffiliation = edit(stock('2024'), settings({ moderatorFromToken: true })).text;
    expect(readTokenConfig(parseDomainConfig(withAffiliation), DOMAIN).conferenceModules?.active).toContain('token_affiliation');
    expect(editForTokenAuth(withAffiliation, settings()).edits).toEqual([]);
    const removed = edit(withAffiliation, settings({ moderatorFromToken: false }));
    expect(changedLines(withAffiliation, removed.text)).toEqual(['-        "token_affiliation";']);
  });

  it('rotates the secret by changing only its value', () => {
    const converged = edit(stock('2026'), settings()).text;
    const rotated = edit(converged, settings({ appSecret: 'new-secret-2' }));
    expect(rotated.edits).toHaveLength(1);
    expect(changedLines(converged, rotated.text)).toEqual(['-    app_secret="s3cr3t-value"', '+    app_secret="new-secret-2"']);
  });
});

describe('editForTokenAuth on other shapes', () => {
  it('edits a hand-edited file (CRLF, tabs, reordered, app_id set, one-line tables) in its own style', () => {
    const result = edit(HAND_EDITED, settings());
    expect(result.text).toBe(replaceLines(HAND_EDITED, [
      ['\tapp_id = "old_backend" -- set by hand in 2023', '\tapp_id = "my_backend" -- set by hand in 2023'],
      ['\tauthentication = "jitsi-anonymous" -- do not delete me', '\tauthentication = "token" -- do not delete me'],
      ['\t--app_secret="example_app_secret"', '\tapp_secret="s3cr3t-value"\n\tallow_empty_token = false\n\tenable_domain_verification = true'],
      ['\tmodules_enabled = { "muc_meeting_id", "polls" } -- kept short', '\tmodules_enabled = { "muc_meeting_id", "polls", "token_verification" } -- kept short'],
    ]));
    expect(result.text.split('\r\n').every((l) => !l.includes('\n'))).toBe(true); // no bare LF added
    expect(result.warnings).toEqual([]);
  });

  it('edits an old-generation file the way jitsi-meet-tokens did', () => {
    const result = edit(OLD_GENERATION, settings());
    expect(result.text).toBe(replaceLines(OLD_GENERATION, [
      ['--plugin_paths = { "/usr/share/jitsi-meet/prosody-plugins/" }',
        `plugin_paths = { "/usr/share/jitsi-meet/prosody-plugins/" }\nmuc_mapper_domain_base = "${DOMAIN}";`],
      ['        authentication = "anonymous"', '        authentication = "token"'],
      ['        --app_id="example_app_id"', '        app_id="my_backend"'],
      ['        --app_secret="example_app_secret"',
        '        app_secret="s3cr3t-value"\n        allow_empty_token = false\n        enable_domain_verification = true'],
      ['    --modules_enabled = { "token_verification" }', '    modules_enabled = { "token_verification" }'],
    ]));
  });

  it('adds what is missing entirely, after the header and the last statement', () => {
    const input = [
      'VirtualHost "meet.example.org"',
      '  c2s_require_encryption = false',
      '',
      'Component "conference.meet.example.org" "muc"',
      '  storage = "memory"',
      '',
    ].join('\n');
    const result = edit(input, settings());
    expect(result.text).toBe([
      'muc_mapper_domain_base = "meet.example.org";',
      '',
      'VirtualHost "meet.example.org"',
      '  authentication = "token"',
      '  app_id="my_backend"',
      '  app_secret="s3cr3t-value"',
      '  allow_empty_token = false',
      '  enable_domain_verification = true',
      '  c2s_require_encryption = false',
      '',
      'Component "conference.meet.example.org" "muc"',
      '  storage = "memory"',
      '  modules_enabled = {',
      '    "token_verification";',
      '  }',
      '',
    ].join('\n'));
    expect(result.warnings.join('\n')).toContain('plugin_paths');
  });

  it('puts muc_mapper_domain_base at the top of the global section when there is no plugin_paths', () => {
    const input = replaceOnce(replaceOnce(stock('2024'),
      'plugin_paths = { "/usr/share/jitsi-meet/prosody-plugins/" }\n', ''),
      `-- domain mapper options, must at least have domain base set to use the mapper\nmuc_mapper_domain_base = "${DOMAIN}";\n`, '');
    const result = edit(input, settings());
    expect(result.text).toBe(replaceLines(input, [
      ...STOCK_TOKEN_LINES,
      ['external_service_secret = "turn-secret-123";', `muc_mapper_domain_base = "${DOMAIN}";\nexternal_service_secret = "turn-secret-123";`],
    ]));
    expect(result.warnings).toEqual([expect.stringContaining('does not set plugin_paths')]);
  });

  it('leaves a different muc_mapper_domain_base as it is, with a warning', () => {
    const input = stock('2024').replace(`muc_mapper_domain_base = "${DOMAIN}";`, 'muc_mapper_domain_base = "other.example";');
    const result = edit(input, settings());
    expect(result.text).toContain('muc_mapper_domain_base = "other.example";');
    expect(result.warnings).toEqual([expect.stringContaining('muc_mapper_domain_base is "other.example"')]);
  });

  it('changes nothing when the values are already right, however they are spelled', () => {
    const input = [
      'plugin_paths = { "/usr/share/jitsi-meet/prosody-plugins/" }',
      "muc_mapper_domain_base = 'meet.example.org'",
      'VirtualHost "meet.example.org"',
      "    authentication = 'token'",
      '    app_id = [[my_backend]]',
      '    app_secret = "s3cr3t\\045value"',
      '    allow_empty_token = false;',
      '    enable_domain_verification = true;',
      'Component "conference.meet.example.org" "muc"',
      '    modules_enabled = { [[muc_meeting_id]], \'token_verification\' }',
      '',
    ].join('\n');
    const result = edit(input, settings());
    expect(result.edits).toEqual([]);
    expect(result.text).toBe(input);
  });

  it('uses the VirtualHost\'s main_muc to find the conference component', () => {
    const input = [
      'plugin_paths = { "/p/" }',
      'muc_mapper_domain_base = "meet.example.org"',
      'VirtualHost "meet.example.org"',
      '    authentication = "token"',
      '    main_muc = "rooms.meet.example.org"',
      'Component "rooms.meet.example.org" "muc"',
      '    modules_enabled = { "polls" }',
      '',
    ].join('\n');
    expect(edit(input, settings()).text).toContain('modules_enabled = { "polls", "token_verification" }');
  });
});

describe('modules_enabled tables in every style', () => {
  const wrap = (table: string) => [
    'plugin_paths = { "/p/" }',
    'muc_mapper_domain_base = "meet.example.org"',
    'VirtualHost "meet.example.org"',
    '    authentication = "token"',
    '    app_id="my_backend"',
    '    app_secret="s3cr3t-value"',
    '    allow_empty_token = false',
    '    enable_domain_verification = true',
    'Component "conference.meet.example.org" "muc"',
    `    modules_enabled = ${table}`,
    '    storage = "memory"',
    '',
  ].join('\n');
  const cases: Array<[string, string, string, Partial<TokenAuthSettings>?]> = [
    ['empty', '{}', '{\n        "token_verification";\n    }'],
    ['empty with a space', '{ }', '{\n        "token_verification";\n    }'],
    ['one line, commas', '{ "a", "b" }', '{ "a", "b", "token_verification" }'],
    ['one line, trailing separator', '{ "a"; "b"; }', '{ "a"; "b"; "token_verification"; }'],
    ['multi-line without trailing separator', '{\n        "a",\n        "b"\n    }', '{\n        "a",\n        "b",\n        "token_verification"\n    }'],
    ['multi-line, trailing comment on the last entry', '{\n        "a";\n        "b"; -- why\n    }', '{\n        "a";\n        "b"; -- why\n        "token_verification";\n    }'],
    ['commented entry with a space', '{\n        "a";\n        -- "token_verification";\n    }', '{\n        "a";\n        "token_verification";\n    }'],
    ['commented entry without separator, entries after', '{\n        "a";\n        --"token_verification"\n        "b";\n    }', '{\n        "a";\n        "token_verification";\n        "b";\n    }'],
    ['commented entry with a trailing note', '{\n        --"token_verification"; -- room check\n    }', '{\n        "token_verification"; -- room check\n    }'],
    ['only a comment inside', '{\n        -- nothing yet\n    }', '{\n        "token_verification";\n        -- nothing yet\n    }'],
    ['block comment after the last entry', '{\n        "a"; --[[ multi\n        line ]]\n    }', '{\n        "a"; --[[ multi\n        line ]]\n        "token_verification";\n    }'],
    ['both modules into one line', '{ "a" }', '{ "a", "token_verification", "token_affiliation" }', { moderatorFromToken: true }],
    ['room check off, one line, middle', '{ "a", "token_verification", "b" }', '{ "a", "b" }', { roomCheck: false }],
    ['room check off, one line, last', '{ "a", "token_verification" }', '{ "a" }', { roomCheck: false }],
    ['room check off, one line, only', '{ "token_verification" }', '{ }', { roomCheck: false }],
    ['room check off, own line', '{\n        "a";\n        "token_verification"; -- on\n    }', '{\n        "a";\n        --"token_verification"; -- on\n    }', { roomCheck: false }],
    ['affiliation off, own line', '{\n        "token_affiliation";\n        "a";\n    }', '{\n        "a";\n    }', { roomCheck: false, moderatorFromToken: false }],
  ];
  it.each(cases)('%s', (_name, before, after, overrides) => {
    const result = edit(wrap(before), settings(overrides));
    expect(result.text).toBe(wrap(after));
  });

  it('refuses a modules_enabled that is not a table literal', () => {
    expect(() => editForTokenAuth(wrap('my_modules'), settings())).toThrow(expect.objectContaining({ problem: 'modules-enabled-not-table', code: 'host-state' }));
  });
});

describe('secrets with every nasty character', () => {
  const secrets = [
    'quote"inside', "single'quote", 'back\\slash\\', ']]', 'close]]--[[open', '-- comment', 'line\nbreak', 'cr\r\nlf',
    'tab\t', '\u0000nul', 'ünïcødé', '😀🔑', '%s%d', '$(id)`id`', '{{x}}&amp;<>', ' leading and trailing ',
  ];
  it.each(secrets.map((s) => [JSON.stringify(s), s]))('%s reads back as written', (_name, appSecret) => {
    for (const input of [stock('2024'), HAND_EDITED]) {
      // app_id gets the same characters in another order (a description may show it, never the secret)
      const appId = `id:${[...appSecret].reverse().join('')}`;
      const result = edit(input, settings({ appSecret, appId }));
      const reading = readTokenConfig(parseDomainConfig(result.text), DOMAIN);
      expect(reading.appSecret).toBe(appSecret);
      expect(reading.appId).toBe(appId);
      // the secret's line is one physical line
      expect(result.text.split(/\r?\n/).filter((l) => l.includes('app_secret=')).length).toBe(1);
    }
  });
});

describe('refusals', () => {
  function error(text: string, s = settings()): DomainConfigError {
    try {
      editForTokenAuth(text, s);
    } catch (e) {
      if (e instanceof DomainConfigError) return e;
      throw e;
    }
    throw new Error('expected a DomainConfigError');
  }

  it('names the VirtualHosts there are when the domain has none', () => {
    const e = error(stock('2024'), settings({ domain: 'other.example.org' }));
    expect(e.problem).toBe('no-virtualhost');
    expect(e.message).toContain(`"${DOMAIN}", "auth.${DOMAIN}", "recorder.${DOMAIN}", "jigasi.meet.jitsi"`);
    expect(e.hint).toContain(`"${DOMAIN}"`);
  });

  it('refuses a domain without a conference MUC', () => {
    const e = error('VirtualHost "meet.example.org"\n    authentication = "jitsi-anonymous"\n');
    expect(e.problem).toBe('no-conference-component');
  });

  it.each([
    ['os.getenv', 'os.getenv("JITSI_SECRET")'],
    ['concatenation', '"abc" .. "def"'],
    ['a variable', 'jitsi_key_from_vault'],
  ])('refuses to rewrite an app_secret that is %s, without quoting it', (_name, expression) => {
    const input = stock('2026').replace('    --app_secret="example_app_secret"', `    app_secret = ${expression}`);
    const e = error(input);
    expect(e.problem).toBe('app-secret-not-plain');
    expect(e.code).toBe('host-state');
    expect(e.message).toMatch(/line \d+/);
    expect(e.message).not.toContain(expression);
    expect(e.hint).toContain('plain string');
  });

  it('reports invalid Lua with its line', () => {
    const input = stock('2024').replace('    c2s_require_encryption = false', '    c2s_require_encryption = = false');
    const e = error(input);
    expect(e.problem).toBe('invalid-lua');
    expect(e.line).toBe(input.split('\n').findIndex((l) => l.includes('= = false')) + 1);
    expect(e.message).toMatch(/not valid Lua: line \d+, column \d+/);
  });

  it('names the file it was given in every refusal', () => {
    const path = `/etc/prosody/conf.avail/${DOMAIN}.cfg.lua`;
    const input = stock('2026').replace('    --app_secret="example_app_secret"', '    app_secret = os.getenv("S")');
    const e = (() => {
      try {
        editForTokenAuth(input, settings(), path);
      } catch (caught) {
        return caught as DomainConfigError;
      }
      throw new Error('expected a DomainConfigError');
    })();
    expect(e).toBeInstanceOf(JitsiJwtError);
    expect(e.message).toContain(path);
    expect(e.line).toBe(input.split('\n').findIndex((l) => l.includes('os.getenv')) + 1);
    expect(exitCodeFor(e)).toBe(EXIT.hostState);
  });
});

describe('internal errors', () => {
  it('refuses overlapping edits as a bug of the tool, not of the host', () => {
    const overlapping = [
      { range: [0, 4] as [number, number], text: 'a', description: 'first' },
      { range: [2, 6] as [number, number], text: 'b', description: 'second' },
    ];
    expect(() => applyEdits('0123456789', overlapping)).toThrow(expect.objectContaining({ code: 'internal', hint: expect.stringContaining('bug in jitsi-jwt') }));
  });
});
