-- jitsi-jwt test bed: stand-in for Jitsi's mod_token_verification, written by
-- us from Jitsi's documented contract. Not Jitsi's code.
--
-- Listed in the conference MUC's modules_enabled. When a room is created or
-- joined by a session that logged in with a token, the room must match the
-- token's `room` claim ("*" = any room) and, with enable_domain_verification,
-- the token's `sub` must be the XMPP domain (muc_mapper_domain_base), "*", or
-- the tenant of a "[tenant]room" room. Admins of the component (focus) and
-- sessions without a token (allow_empty_token) are let through.

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

-- Token options live on the main VirtualHost.
local token_util = module:require "token/util".new(module:context(domain_base));
if token_util == nil then
	error("token verification is not configured on " .. domain_base .. " (see the errors above)", 0);
end

local function verify(event)
	local origin, stanza = event.origin, event.stanza;
	local from, room_jid = stanza.attr.from, stanza.attr.to;
	if is_admin(from) then return; end
	-- Only sessions that came through token auth carry a token; others
	-- (allow_empty_token guests) are not ours to judge.
	if not origin or origin.auth_token == nil then return; end
	if token_util:verify_room(origin, room_jid) then return; end

	module:log("error", "User %s not allowed to join %s: token room %s, token sub %s, token %s",
		tostring(from), tostring(room_jid), tostring(origin.jitsi_meet_room),
		tostring(origin.jitsi_meet_domain), tostring(origin.auth_token));
	return refuse(origin, stanza, "not-allowed", "Room and token mismatched");
end

module:hook("muc-room-pre-create", verify, 99);
module:hook("muc-occupant-pre-join", verify, 99);
