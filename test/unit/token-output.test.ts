import { describe, expect, it } from 'vitest';
import { embedPage } from '../../src/cli/token-command.js';
import { normaliseRoom } from '../../src/token/room.js';

describe('normaliseRoom', () => {
  it.each([
    ['Standup', 'standup'],
    ['  Team-Sync ', 'team-sync'],
    ['ÉQUIPE', 'équipe'],
    ['Café', 'café'],
    ['Straße', 'straße'],
    ['*', '*'],
  ])('%j → %j', (room, expected) => {
    expect(normaliseRoom(room)).toBe(expected);
  });

  it.each(['', 'two words', 'a/b', 'x@y', "it's"])('refuses %j', (room) => {
    expect(() => normaliseRoom(room)).toThrow();
  });
});

describe('embedPage', () => {
  it('opens the room with the IFrame API and keeps the values out of the markup', () => {
    const page = embedPage('meet.example.com', 'standup', 'a.b.c');
    expect(page).toContain('<script src="https://meet.example.com/external_api.js"></script>');
    expect(page).toContain('const meeting = {"domain":"meet.example.com","roomName":"standup","jwt":"a.b.c"};');
    expect(page).toContain("new JitsiMeetExternalAPI(meeting.domain, { roomName: meeting.roomName, jwt: meeting.jwt, parentNode: document.querySelector('#meet') });");
    expect(embedPage('x.test', '</script>', 't')).not.toContain('"</script>"');
  });
});
