-- jitsi-jwt test bed: stand-in for Jitsi's mod_muc_lobby_rooms, written by us
-- from Jitsi's documented contract. Not Jitsi's code.
--
-- Listed in the main VirtualHost's modules_enabled, next to
--     lobby_muc = "lobby.<domain>"
--     main_muc = "conference.<domain>"
-- A room of the main MUC gets a lobby (a room of the same name in lobby_muc)
-- when a moderator makes it members-only, or when another module fires the
-- global event "create-lobby-room" { room, reason, skip_display_name_check }
-- (mod_persistent_lobby does, for mod_muc_wait_for_host). The global event
-- "destroy-lobby-room" { room, newjid, message } takes it away again.
--
-- While a room is members-only, a joiner that is not a member gets
--   <presence type='error'>
--     <error type='auth' code='407'>
--       <registration-required xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>
--       [<REASON xmlns='http://jitsi.org/jitmeet'/>]   (e.g. waiting-for-host)
--       <lobbyroom xmlns='http://jitsi.org/jitmeet'>ROOM@lobby.DOMAIN</lobbyroom>
--     </error>
--     <lobbyroom>ROOM@lobby.DOMAIN</lobbyroom>
--     <x xmlns='http://jabber.org/protocol/muc'/>
--   </presence>
-- (or, without a display name and unless the lobby skips that check, a 406
-- not-acceptable with <displayname-required/>). Focus, sessions whose domain
-- or bare JID is in muc_lobby_whitelist (read on this VirtualHost), and
-- joiners giving the room's password get in as members instead.
--
-- The lobby's own features (knocking, moderators admitting people, messages
-- between lobby and moderators) are not modelled.

local st = require "util.stanza";
local jid = require "util.jid";

local NS_MUC = "http://jabber.org/protocol/muc";
local NS_MUC_USER = "http://jabber.org/protocol/muc#user";
local NS_NICK = "http://jabber.org/protocol/nick";
local NS_JITMEET = "http://jitsi.org/jitmeet";

local main_muc = module:get_option_string("main_muc");
local lobby_muc = module:get_option_string("lobby_muc");
if not main_muc or not lobby_muc then
	module:log("error", "lobby not enabled: main_muc and lobby_muc must both be set on %s", module.host);
	return;
end

local whitelist;
local function load_whitelist()
	whitelist = module:get_option_set("muc_lobby_whitelist", {});
end
load_whitelist();
module:hook_global("config-reloaded", load_whitelist);

local function lobby_service()
	local host = prosody.hosts[lobby_muc];
	return host and host.modules.muc;
end

local function lobby_jid_for(room)
	return jid.node(room.jid) .. "@" .. lobby_muc;
end

-- Tells the room's occupants (jicofo among them) that its configuration changed.
local function announce_config_change(room)
	room:broadcast_message(st.message({ type = "groupchat", from = room.jid })
		:tag("x", { xmlns = NS_MUC_USER }):tag("status", { code = "104" }));
end

local function open_lobby(room)
	local service = lobby_service();
	if not service then
		module:log("error", "no MUC on %s: cannot open a lobby for %s", lobby_muc, room.jid);
		return;
	end
	local lobby_jid = lobby_jid_for(room);
	local lobby = service.get_room_from_jid(lobby_jid) or service.create_room(lobby_jid);
	-- Kept while empty: the lobby lives as long as the main room wants it.
	lobby:set_persistent(true);
	room._data.lobbyroom = lobby_jid;
	module:log("info", "lobby %s opened for %s", lobby_jid, room.jid);
end

local function close_lobby(room, newjid, message)
	local lobby_jid = room._data.lobbyroom;
	if not lobby_jid then return; end
	room._data.lobbyroom = nil;
	room._data.lobby_extra_reason = nil;
	room._data.lobby_skip_display_name_check = nil;
	local service = lobby_service();
	local lobby = service and service.get_room_from_jid(lobby_jid);
	if lobby then
		lobby:set_persistent(false);
		lobby:destroy(newjid, message or "Lobby room closed.");
	end
	module:log("info", "lobby %s closed", lobby_jid);
end

module:hook_global("create-lobby-room", function(event)
	local room = event.room;
	-- Whoever is already in stays in: make them members before the room closes.
	for _, occupant in room:each_occupant() do
		local affiliation = room:get_affiliation(occupant.bare_jid);
		if affiliation == nil or affiliation == "none" then
			room:set_affiliation(true, occupant.bare_jid, "member");
		end
	end
	room:set_members_only(true);
	room._data.lobby_extra_reason = event.reason;
	room._data.lobby_skip_display_name_check = event.skip_display_name_check;
	announce_config_change(room);
	open_lobby(room);
end);

module:hook_global("destroy-lobby-room", function(event)
	close_lobby(event.room, event.newjid, event.message);
	announce_config_change(event.room);
end);

local function waiting_error(stanza, room)
	local lobby_jid = room._data.lobbyroom;
	local reply = st.reply(stanza);
	reply.attr.type = "error";
	reply:tag("error", { type = "auth", code = "407" })
		:tag("registration-required", { xmlns = "urn:ietf:params:xml:ns:xmpp-stanzas" }):up();
	if room._data.lobby_extra_reason then
		reply:tag(room._data.lobby_extra_reason, { xmlns = NS_JITMEET }):up();
	end
	reply:text_tag("lobbyroom", lobby_jid, { xmlns = NS_JITMEET });
	reply:up();
	-- Older Jitsi clients read the lobby room from a bare child of the presence.
	reply:text_tag("lobbyroom", lobby_jid);
	reply:tag("x", { xmlns = NS_MUC }):up();
	return reply;
end

local function display_name_error(stanza)
	local reply = st.error_reply(stanza, "modify", "not-acceptable");
	reply.tags[1].attr.code = "406";
	reply:tag("displayname-required", { xmlns = NS_JITMEET, lobby = "true" }):up();
	reply:up();
	reply:tag("x", { xmlns = NS_MUC }):up();
	return reply;
end

local function on_pre_join(event)
	local room, occupant, stanza, origin = event.room, event.occupant, event.stanza, event.origin;
	if not room:get_members_only() then return; end
	if jid.resource(occupant.nick) == "focus" then return; end
	local join = stanza:get_child("x", NS_MUC);
	if not join then return; end

	local from = stanza.attr.from;
	local _, from_domain = jid.split(from);
	local password = join:get_child_text("password", NS_MUC);
	local room_password = room:get_password();
	if whitelist:contains(from_domain) or whitelist:contains(jid.bare(from))
		or (password and room_password and password == room_password) then
		local affiliation = room:get_affiliation(from);
		if affiliation == nil or affiliation == "none" or affiliation == "member" then
			room:set_affiliation(true, jid.bare(from), "member");
			occupant.role = "participant";
			module:log("debug", "%s passes the lobby of %s", from, room.jid);
			return;
		end
	end

	local nick = stanza:get_child_text("nick", NS_NICK);
	if (nick == nil or nick == "") and not room._data.lobby_skip_display_name_check then
		origin.send(display_name_error(stanza));
		return true;
	end

	local affiliation = room:get_affiliation(from);
	if affiliation == nil or affiliation == "none" then
		module:log("info", "%s waits in the lobby of %s (%s)", from, room.jid, tostring(room._data.lobby_extra_reason));
		origin.send(waiting_error(stanza, room));
		return true;
	end
end

-- Runs hooks on the main MUC once that component is up.
local function on_main_muc(callback)
	if prosody.hosts[main_muc] then
		callback(module:context(main_muc));
		return;
	end
	module:hook_global("host-activated", function(host)
		if host == main_muc then callback(module:context(main_muc)); end
	end, -100);
end

on_main_muc(function(main)
	-- After the other join checks (token verification at 99), before
	-- Prosody's own members-only check (-5).
	main:hook("muc-occupant-pre-join", on_pre_join, -4);

	-- A moderator switching members-only on or off opens or closes the lobby.
	main:hook("muc-config-submitted", function(event)
		local room, actor = event.room, event.actor;
		if jid.node(actor) == "focus" then return; end
		if event.fields["muc#roomconfig_membersonly"] then
			if not room._data.lobbyroom then
				open_lobby(room);
				event.status_codes["104"] = true;
			end
		elseif room._data.lobbyroom then
			close_lobby(room, room.jid);
		end
	end);

	main:hook("muc-room-destroyed", function(event)
		close_lobby(event.room, nil);
	end);

	-- The lobby's address is in the room's disco#info while the lobby is on.
	main:hook("muc-disco#info", function(event)
		local room = event.room;
		if room._data.lobbyroom and room:get_members_only() then
			table.insert(event.form, { name = "muc#roominfo_lobbyroom", label = "Lobby room jid", value = "" });
			event.formdata["muc#roominfo_lobbyroom"] = room._data.lobbyroom;
		end
	end);
end);

-- Clients find the lobby component through the main host's disco#info.
module:add_identity("component", "lobbyrooms", lobby_muc);
