-- jitsi-jwt test bed: stand-in for Jitsi's mod_token_verification, written by
-- us from Jitsi's documented contract. Not Jitsi's code.
--
-- Listed in the conference MUC's modules_enabled. When a room is created or
-- joined, the session's token must allow the room: its `room` claim must
-- match ("*" = any room) and, with enable_domain_verification, its `sub` must
-- be the XMPP domain (the VirtualHost the component belongs to), "*", or the tenant of a
-- "[tenant]room" room. A session without a token (a guest, Jibri's recorder,
-- Jigasi) is judged the same way and so refused, unless allow_empty_token is
-- set on the main VirtualHost (see token/util.lib.lua for the other options
-- that let it through).
--
-- Let through without a token:
--   * admins of the component (focus);
--   * sessions whose domain or bare JID is in token_verification_allowlist,
--     a set read on the conference component, e.g.
--       token_verification_allowlist = { "recorder.<domain>", "jigasi@auth.<domain>" }
--
-- A refused join gets a presence error: cancel / not-allowed with the text
-- "Room and token mismatched"; the log says "Token nil not allowed to join"
-- for a session without a token.

local st = require "util.stanza";
local jid = require "util.jid";

local admins = module:get_option_inherited_set("admins", {});
local function is_admin(user_jid)
	return user_jid ~= nil and admins:contains(jid.bare(user_jid));
end

local domain_base = module:get_option_string("muc_mapper_domain_base");

local function refuse(origin, stanza, condition, text)
	origin.send(st.error_reply(stanza, "cancel", condition, text));
	return true; -- stops the join / creation
end

if not domain_base then
	module:log("error", "'muc_mapper_domain_base' is not set: cannot tell which host's tokens apply, refusing every join to %s", module.host);
	local function no_base(event)
		if is_admin(event.stanza.attr.from) then return; end
		module:log("error", "refusing %s in %s: muc_mapper_domain_base is not set",
			tostring(event.stanza.attr.from), tostring(event.stanza.attr.to));
		return refuse(event.origin, event.stanza, "item-not-found", "Room does not exist");
	end
	module:hook("muc-room-pre-create", no_base, 99);
	module:hook("muc-occupant-pre-join", no_base, 99);
	return;
end

-- Token options live on the VirtualHost this component belongs to: its name
-- without the first label (conference.meet.example.com -> meet.example.com), as
-- in Jitsi's plugin; muc_mapper_domain_base is global, shared by every domain
-- file of a Prosody.
local parent = module.host:match("^[^.]+%.(.+)$") or domain_base;
local token_util = module:require "token/util".new(module:context(parent));
if token_util == nil then
	error("token verification is not configured on " .. parent .. " (see the errors above)", 0);
end

-- Domains and bare JIDs that join without a token; re-read on config reload.
local allowlist;
local function load_allowlist()
	allowlist = module:get_option_set("token_verification_allowlist", {});
end
load_allowlist();
module:hook_global("config-reloaded", load_allowlist);

local function allowlisted(user_jid)
	local _, domain = jid.split(user_jid);
	return allowlist:contains(domain) or allowlist:contains(jid.bare(user_jid));
end

local function verify(event)
	local origin, stanza = event.origin, event.stanza;
	local from, room_jid = stanza.attr.from, stanza.attr.to;
	if is_admin(from) then return; end
	if from and allowlisted(from) then
		module:log("debug", "%s joins %s without a token check: allowlisted", from, tostring(room_jid));
		return;
	end
	if not origin then return; end
	if token_util:verify_room(origin, room_jid) then return; end

	module:log("error", "Token %s not allowed to join: %s (user %s, token room %s, token sub %s)",
		tostring(origin.auth_token), tostring(room_jid), tostring(from),
		tostring(origin.jitsi_meet_room), tostring(origin.jitsi_meet_domain));
	return refuse(origin, stanza, "not-allowed", "Room and token mismatched");
end

module:hook("muc-room-pre-create", verify, 99);
module:hook("muc-occupant-pre-join", verify, 99);
