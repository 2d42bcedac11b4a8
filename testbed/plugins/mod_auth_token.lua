-- jitsi-jwt test bed: stand-in for Jitsi's mod_auth_token, written by us from
-- Jitsi's documented contract. Not Jitsi's code.
--
-- Loaded by `authentication = "token"` on the main VirtualHost. Offers SASL
-- ANONYMOUS only; the JWT comes from the `token` query parameter of the BOSH
-- (/http-bind) or WebSocket (/xmpp-websocket) URL, or from an
-- `Authorization: Bearer` header. A valid token gives the session a random
-- node name (as anonymous auth does) and its claims (see token/util.lib.lua).
-- With `asap_key_server` the token's public key is fetched over HTTP during
-- the login, which waits for it in the session's async runner.

local formdecode = require "util.http".formdecode;
local generate_uuid = require "util.uuid".generate;

local token_util = module:require "token/util".new(module);
if token_util == nil then
	error("token authentication is not configured (see the errors above)", 0);
end

-- Remember the token (and the room named in the URL) of new HTTP sessions.
local function take_token(event)
	local session, request = event.session, event.request;
	local token, room;
	local query = request.url and request.url.query;
	if query then
		local params = formdecode(query);
		if type(params) == "table" then
			token, room = params.token, params.room;
		end
	end
	if not token and request.headers then
		local authorization = request.headers.authorization;
		token = authorization and authorization:match("^[Bb]earer%s+(%S+)");
	end
	if token == "" then token = nil; end
	session.auth_token = token;
	session.jitsi_bosh_query_room = room;
end
-- mod_bosh and mod_websocket are global modules: their events fire globally
-- (a WebSocket session does not know its host yet when it fires).
local function take_token_here(event)
	local host = event.session.host;
	if host == nil or host == module.host then take_token(event); end
end
for _, name in ipairs({ "bosh-session", "websocket-session" }) do
	module:hook(name, take_token);
	module:hook_global(name, take_token_here);
end

-- A SASL handler offering ANONYMOUS, deciding on the session's token.
local handler = {};
handler.__index = handler;

local function new_handler(session)
	return setmetatable({ session = session }, handler);
end

function handler:mechanisms()
	return { ANONYMOUS = true };
end

function handler:select(mechanism)
	if mechanism ~= "ANONYMOUS" then return false; end
	self.selected = mechanism;
	return true;
end

function handler:clean_clone()
	return new_handler(self.session);
end

function handler:process(message) -- luacheck: ignore 212/message
	local ok, condition, text = token_util:process_and_verify_token(self.session);
	if not ok then
		local session = self.session;
		module:log("warn",
			"Error verifying token err:%s, reason:%s tenant:%s room:%s user_agent:%s",
				tostring(condition), tostring(text), tostring(session.jitsi_web_query_prefix),
				tostring(session.jitsi_bosh_query_room), tostring(session.user_agent_header));
		return "failure", condition or "not-allowed", text;
	end
	self.username = generate_uuid();
	return "success";
end

-- The auth provider: no passwords, no accounts.
local provider = {};

function provider.test_password() return nil, "Password based auth not supported"; end
function provider.get_password() return nil, "Password not available"; end
function provider.set_password() return nil, "Password based auth not supported"; end
function provider.user_exists() return nil, "Only token users are supported"; end
function provider.create_user() return nil, "Account creation not supported"; end
function provider.delete_user() return nil, "Account deletion not supported"; end
function provider.users() return next, {}, nil; end

function provider.get_sasl_handler(session)
	return new_handler(session);
end

module:provides("auth", provider);
