// Smoke-test verdicts: a negative case passes only when the check it aims at
// refused it (stage and condition, never the text); anything else that kept it
// out is inconclusive; positive cases pass or fail.
import { describe, expect, it } from 'vitest';
import { intendedRefusalFor, observedText, verdictFor, type Attempted, type CaseName, type SmokeCase, type Verdict } from '../../src/smoke/smoke.js';

const refused = (at: 'sasl' | 'conference' | 'join', condition: string, text?: string): Attempted => ({
  admitted: false,
  at,
  answer: { condition, text, stanza: `<failure><${condition}/></failure>` },
});

const OUTCOMES = {
  admitted: { admitted: true },
  'admitted as member': { admitted: true, affiliation: 'member' },
  'admitted as owner': { admitted: true, affiliation: 'owner' },
  'sasl not-allowed': refused('sasl', 'not-allowed', 'token required'),
  'sasl not-authorized': refused('sasl', 'not-authorized'),
  'conference service-unavailable': refused('conference', 'service-unavailable'),
  'join not-allowed': refused('join', 'not-allowed', 'Room and token mismatched'),
  'join item-not-found': refused('join', 'item-not-found', 'Room does not exist'),
  'transport error': { error: 'timed out waiting for the SASL outcome' },
} satisfies Record<string, Attempted>;
type OutcomeName = keyof typeof OUTCOMES;

const loginCase: Record<OutcomeName, Verdict> = {
  admitted: 'fail',
  'admitted as member': 'fail',
  'admitted as owner': 'fail',
  'sasl not-allowed': 'pass',
  'sasl not-authorized': 'inconclusive',
  'conference service-unavailable': 'inconclusive',
  'join not-allowed': 'inconclusive',
  'join item-not-found': 'inconclusive',
  'transport error': 'inconclusive',
};
const admittedCase: Record<OutcomeName, Verdict> = {
  admitted: 'pass',
  'admitted as member': 'pass',
  'admitted as owner': 'pass',
  'sasl not-allowed': 'fail',
  'sasl not-authorized': 'fail',
  'conference service-unavailable': 'fail',
  'join not-allowed': 'fail',
  'join item-not-found': 'fail',
  'transport error': 'fail',
};

const TABLE: [CaseName, SmokeCase['expected'], Record<OutcomeName, Verdict>][] = [
  ['valid token', 'admitted', admittedCase],
  ['no token', 'refused', loginCase],
  ['no token', 'admitted', admittedCase],
  ['wrong secret', 'refused', loginCase],
  ['old secret', 'refused', loginCase],
  ['expired token', 'refused', loginCase],
  [
    'wrong room',
    'refused',
    {
      admitted: 'fail',
      'admitted as member': 'fail',
      'admitted as owner': 'fail',
      'sasl not-allowed': 'inconclusive',
      'sasl not-authorized': 'inconclusive',
      'conference service-unavailable': 'inconclusive',
      'join not-allowed': 'pass',
      'join item-not-found': 'inconclusive',
      'transport error': 'inconclusive',
    },
  ],
  ['wrong room', 'admitted', admittedCase],
  ['moderator token', 'owner', { ...admittedCase, admitted: 'fail', 'admitted as member': 'fail' }],
  ['plain token', 'member', { ...admittedCase, admitted: 'fail', 'admitted as owner': 'fail' }],
];

describe('verdictFor', () => {
  const rows = TABLE.flatMap(([name, expected, verdicts]) =>
    (Object.keys(OUTCOMES) as OutcomeName[]).map((outcome) => ({ name, expected, outcome, verdict: verdicts[outcome] })),
  );

  it.each(rows)('$name (expected $expected), $outcome: $verdict', ({ name, expected, outcome, verdict }) => {
    expect(verdictFor(expected, OUTCOMES[outcome], intendedRefusalFor(name))).toBe(verdict);
  });

  it('never reads the text: the same stage and condition with other words or none give the same verdict', () => {
    for (const [name, expected] of TABLE) {
      for (const [at, condition] of [['sasl', 'not-allowed'], ['join', 'not-allowed'], ['conference', 'service-unavailable']] as const) {
        const verdicts = ['token required', 'Room and token mismatched', 'anything at all', undefined].map((text) => verdictFor(expected, refused(at, condition, text), intendedRefusalFor(name)));
        expect(new Set(verdicts).size).toBe(1);
      }
    }
  });
});

describe('observedText', () => {
  it('names what answered an inconclusive case and the check it was not', () => {
    const wrongRoom = intendedRefusalFor('wrong room');
    const focus = OUTCOMES['conference service-unavailable'];
    expect(observedText(focus, verdictFor('refused', focus, wrongRoom), wrongRoom)).toBe('inconclusive: refused by focus: service-unavailable — not the room check');
    const login = intendedRefusalFor('expired token');
    const joined = OUTCOMES['join not-allowed'];
    expect(observedText(joined, verdictFor('refused', joined, login), login)).toBe('inconclusive: refused at room join: not-allowed (Room and token mismatched) — not the token check at login');
  });

  it('shows an error as the error, marked inconclusive on a negative case', () => {
    const error = OUTCOMES['transport error'];
    expect(observedText(error, 'inconclusive', intendedRefusalFor('no token'))).toBe('inconclusive: error: timed out waiting for the SASL outcome');
    expect(observedText(error, 'fail', intendedRefusalFor('valid token'))).toBe('error: timed out waiting for the SASL outcome');
  });

  it('shows the answer alone when the case passed or failed', () => {
    expect(observedText(OUTCOMES['sasl not-allowed'], 'pass', intendedRefusalFor('wrong secret'))).toBe('refused at login: not-allowed (token required)');
    expect(observedText(OUTCOMES['admitted as owner'], 'pass')).toBe('admitted as owner');
    expect(observedText(OUTCOMES.admitted, 'fail', intendedRefusalFor('wrong room'))).toBe('admitted');
  });
});

describe('guests and service accounts', () => {
  const waiting: Attempted = {
    admitted: false,
    at: 'join',
    answer: { condition: 'registration-required', extra: ['waiting-for-host', 'lobbyroom'], stanza: '<presence type="error"/>' },
  };
  const lobbyOnly: Attempted = { admitted: false, at: 'join', answer: { condition: 'registration-required', extra: ['lobbyroom'], stanza: '<presence type="error"/>' } };

  it.each([
    ['waits', waiting, 'pass'],
    ['waits', lobbyOnly, 'fail'],
    ['waits', OUTCOMES.admitted, 'fail'],
    ['waits', OUTCOMES['sasl not-allowed'], 'fail'],
    ['waits', OUTCOMES['transport error'], 'inconclusive'],
    ['participant', OUTCOMES.admitted, 'pass'],
    ['participant', OUTCOMES['admitted as member'], 'pass'],
    ['participant', OUTCOMES['admitted as owner'], 'fail'],
    ['participant', waiting, 'fail'],
  ] as [SmokeCase['expected'], Attempted, Verdict][])('expected %s, %j: %s', (expected, outcome, verdict) => {
    expect(verdictFor(expected, outcome)).toBe(verdict);
  });

  it('says a waiting guest waits', () => {
    expect(observedText(waiting, 'pass')).toBe('waiting for a host (registration-required, waiting-for-host)');
  });
});
