// Room names as Jitsi compares them: the MUC room is the lower-cased name
// (Jitsi's web client lower-cases the room from the URL; mod_token_verification
// compares the token's room claim lower-cased). "*" stands for any room.
import { SettingsError } from '../errors.js';

export function normaliseRoom(room: string): string {
  if (room === '*') return room;
  const trimmed = room.trim();
  if (trimmed === '') throw new SettingsError('the room name is empty', 'give --room NAME, or --any-room for a token valid in every room');
  // Characters XMPP forbids in a JID node, and whitespace, cannot be a Jitsi room.
  if (/[\s"&'/:<>@]/u.test(trimmed)) {
    throw new SettingsError(`"${room}" cannot be a Jitsi room name (no spaces or any of " & ' / : < > @)`, 'use letters, digits, dashes and the like');
  }
  return trimmed.toLocaleLowerCase('und').normalize('NFC');
}
