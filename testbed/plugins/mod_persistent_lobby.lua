-- jitsi-jwt test bed: stand-in for Jitsi's mod_persistent_lobby, written by us
-- from Jitsi's documented contract. Not Jitsi's code.
--
-- Listed in the main VirtualHost's modules_enabled next to muc_lobby_rooms
-- (it reads the same main_muc and lobby_muc options). It answers the global
-- event "create-persistent-lobby-room" { room, reason, skip_display_name_check },
-- which mod_muc_wait_for_host fires, by opening the room's lobby through
-- mod_muc_lobby_rooms ("create-lobby-room") and keeping the main room alive
-- while it is empty, so people can wait in the lobby of a room nobody is in.
-- The room goes when both the main room and its lobby are empty.
-- Without this module nobody answers that event: no lobby opens and the
-- room stays open to everyone.

local jid = require "util.jid";

local main_muc = module:get_option_string("main_muc");
local lobby_muc = module:get_option_string("lobby_muc");
if not main_muc or not lobby_muc then
	module:log("error", "persistent lobby not enabled: main_muc and lobby_muc must both be set on %s", module.host);
	return;
end

local function room_of(service_host, room_jid)
	local host = prosody.hosts[service_host];
	local service = host and host.modules.muc;
	return service and room_jid and service.get_room_from_jid(room_jid);
end

module:hook_global("create-persistent-lobby-room", function(event)
	local room = event.room;
	prosody.events.fire_event("create-lobby-room", event);
	room._data.persist_lobby = true;
	room:set_persistent(true);
end);

-- Destroys the main room (and with it the lobby) once nobody is in either.
local function destroy_if_empty(main_room)
	if not main_room or not main_room._data.persist_lobby or main_room:has_occupant() then return; end
	local lobby = room_of(lobby_muc, main_room._data.lobbyroom);
	if lobby and lobby:has_occupant() then return; end
	main_room._data.persist_lobby = nil;
	main_room:set_persistent(false);
	main_room:destroy(nil, "main room and lobby now empty");
end

local function when_up(host_name, callback)
	if prosody.hosts[host_name] then
		callback(module:context(host_name));
		return;
	end
	module:hook_global("host-activated", function(host)
		if host == host_name then callback(module:context(host_name)); end
	end, -100);
end

when_up(main_muc, function(main)
	main:hook("muc-occupant-left", function(event)
		destroy_if_empty(event.room);
	end);
end);

when_up(lobby_muc, function(lobby)
	lobby:hook("muc-occupant-left", function(event)
		local main_room = room_of(main_muc, jid.node(event.room.jid) .. "@" .. main_muc);
		destroy_if_empty(main_room);
	end);
end);
