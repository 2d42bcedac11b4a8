-- jitsi-jwt test bed: stand-in for Jitsi's mod_muc_wait_for_host, written by
-- us from Jitsi's documented contract. Not Jitsi's code.
--
-- Listed in the conference MUC's modules_enabled. Needs muc_mapper_domain_base
-- (without it the module does nothing) and, to hold anyone, the lobby:
-- muc_lobby_rooms and persistent_lobby on the main VirtualHost with the
-- lobby.<domain> component.
--
-- A host is a session that logged in with a token, or a user of the main
-- domain (muc_mapper_domain_base). Until a host has joined a room, anyone
-- else who joins (a guest of guest.<domain>, Jibri's recorder, Jigasi) makes
-- the room open a persistent lobby (the global event
-- "create-persistent-lobby-room" with reason "waiting-for-host") and is
-- refused by mod_muc_lobby_rooms with a 407 registration-required error
-- carrying <waiting-for-host xmlns='http://jitsi.org/jitmeet'/> and the lobby
-- room's address. Admins of the component (focus) are never held. When a
-- host joins, the room stops being members-only, the lobby closes ("Host
-- arrived.") and everyone is let in; a room that has seen a host stays open.
--
-- By default every host becomes an owner when it joins;
-- wait_for_host_disable_auto_owners = true (read on the conference
-- component) leaves affiliations to others (e.g. the token's claims).
-- Rooms listed as moderated (allowners_moderated_rooms/_subdomains) are not
-- modelled.

local jid = require "util.jid";

local domain_base = module:get_option_string("muc_mapper_domain_base");
if not domain_base then
	module:log("warn", "'muc_mapper_domain_base' is not set: not holding anyone in %s", module.host);
	return;
end

local disable_auto_owners = module:get_option_boolean("wait_for_host_disable_auto_owners", false);
local admins = module:get_option_inherited_set("admins", {});

local function is_host(session, occupant)
	if session == nil then return false; end
	if session.auth_token ~= nil then return true; end
	return session.username ~= nil and jid.host(occupant.bare_jid) == domain_base;
end

local function is_healthcheck(room)
	return jid.node(room.jid):sub(1, #"__jicofo-health-check") == "__jicofo-health-check";
end

if not disable_auto_owners then
	module:hook("muc-occupant-joined", function(event)
		local room, occupant = event.room, event.occupant;
		if is_host(event.origin, occupant) then
			room:set_affiliation(true, occupant.bare_jid, "owner");
		end
	end, 2);
end

module:hook("muc-occupant-pre-join", function(event)
	local room, occupant, session = event.room, event.occupant, event.origin;
	if admins:contains(occupant.bare_jid) or is_healthcheck(room) or room.has_host then return; end

	for _, present in room:each_occupant() do
		if jid.host(present.bare_jid) == domain_base then
			room.has_host = true;
			return;
		end
	end

	if is_host(session, occupant) then
		room:set_members_only(false);
		room:set_persistent(false);
		-- The occupant was made while the room was members-only and has no role yet.
		occupant.role = room:get_default_role(room:get_affiliation(occupant.bare_jid)) or "participant";
		module:log("info", "Host %s arrived in %s.", occupant.bare_jid, room.jid);
		module:fire_event("room_host_arrived", room.jid, session);
		prosody.events.fire_event("destroy-lobby-room", { room = room; newjid = room.jid; message = "Host arrived." });
	elseif not room:get_members_only() then
		module:log("info", "Will wait for host in %s.", room.jid);
		prosody.events.fire_event("create-persistent-lobby-room", {
			room = room;
			reason = "waiting-for-host";
			skip_display_name_check = true;
		});
	end
end);
