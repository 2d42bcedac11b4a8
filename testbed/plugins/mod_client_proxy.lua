-- jitsi-jwt test bed: stand-in for Jitsi's mod_client_proxy, written by us
-- from Jitsi's documented contract. Not Jitsi's code.
--
--   Component "focus.<domain>" "client_proxy"
--       target_address = "focus@auth.<domain>"
--
-- An iq a client sends to focus.<domain> goes to the target's connected
-- resource, from focus.<domain>/<client's full JID> so the answer can find its
-- way back; the target's result/error to focus.<domain>/<client> goes to the
-- client, from focus.<domain>. With the target offline the client gets
-- service-unavailable.

if module:get_host_type() ~= "component" then
	error("client_proxy must be loaded as a Component", 0);
end

local st = require "util.stanza";
local jid = require "util.jid";

local target_address = module:get_option_string("target_address");
if not target_address then
	error("client_proxy needs target_address", 0);
end
target_address = jid.bare(target_address);
local target_node, target_host = jid.split(target_address);

-- A connected, available full JID of the target, or nil.
local function target_resource()
	local host = prosody.hosts[target_host];
	local user = host and host.sessions and host.sessions[target_node];
	if not user then return nil; end
	local best;
	for _, session in pairs(user.sessions) do
		if session.full_jid and session.presence then
			if not best or (session.conntime or 0) > (best.conntime or 0) then
				best = session;
			end
		end
	end
	return best and best.full_jid;
end

local function from_target(stanza)
	local _, _, client = jid.split(stanza.attr.to);
	if stanza.name == "iq" and (stanza.attr.type == "result" or stanza.attr.type == "error") then
		client = client and jid.prep(client);
		if not client then
			module:log("debug", "dropping %s from target to %s: no client JID", stanza.name, tostring(stanza.attr.to));
			return;
		end
		stanza.attr.from = module.host;
		stanza.attr.to = client;
		module:send(stanza);
	elseif stanza.name ~= "presence" then
		module:send(st.error_reply(stanza, "cancel", "feature-not-implemented"));
	end
end

local function to_target(stanza)
	if stanza.name == "iq" then
		local type = stanza.attr.type;
		if type ~= "get" and type ~= "set" then return; end
		local target = target_resource();
		if not target then
			module:log("info", "%s is not online, cannot forward iq from %s", target_address, tostring(stanza.attr.from));
			module:send(st.error_reply(stanza, "cancel", "service-unavailable"));
			return;
		end
		stanza.attr.from = module.host .. "/" .. stanza.attr.from;
		stanza.attr.to = target;
		module:send(stanza);
	elseif stanza.name == "message" and stanza.attr.type ~= "error" then
		module:send(st.error_reply(stanza, "cancel", "feature-not-implemented"));
	end
	-- presence to the proxy is ignored
end

local function handle(event)
	local stanza = event.stanza;
	if not stanza.attr.from then return true; end
	if jid.bare(stanza.attr.from) == target_address then
		from_target(stanza);
	else
		to_target(stanza);
	end
	return true;
end

for _, kind in ipairs({ "iq", "message", "presence" }) do
	for _, to in ipairs({ "host", "bare", "full" }) do
		module:hook(kind .. "/" .. to, handle, -1);
	end
end

module:log("info", "proxying %s for %s", module.host, target_address);
