-- jitsi-jwt test bed: stand-in for Jitsi's token/util.lib.lua (shared JWT
-- verification for mod_auth_token and mod_token_verification), written by us
-- from Jitsi's documented contract. Not Jitsi's code.
--
-- Loaded with module:require "token/util", so `module` below is the module
-- that loaded it. It needs the same Lua libraries as Jitsi's token code; on a
-- host without them the requiring module fails to load with Prosody's usual
-- "module 'X' not found" error, which is what the product under test fixes.

local basexx = require "basexx";            -- lua-basexx
local json = require "cjson.safe";          -- lua-cjson
local hmac = require "openssl.hmac";        -- lua-luaossl
local inspect = require "inspect";          -- lua-inspect
local _ssl = require "ssl";                 -- lua-sec (Jitsi's token code loads it too)
local jid = require "util.jid";

local hmac_digests = { HS256 = "sha256", HS384 = "sha384", HS512 = "sha512" };

local Util = {};
Util.__index = Util;

-- Reads the token options through `ctx` (a module or a module:context(host)).
-- Returns nil after logging an error when the configuration cannot work.
function Util.new(ctx)
	local self = setmetatable({}, Util);
	self.app_id = ctx:get_option_string("app_id");
	self.app_secret = ctx:get_option_string("app_secret");
	self.allow_empty_token = ctx:get_option_boolean("allow_empty_token", false);
	self.algorithm = ctx:get_option_string("signature_algorithm", "HS256");
	self.accepted_issuers = ctx:get_option_array("asap_accepted_issuers", { self.app_id });
	self.accepted_audiences = ctx:get_option_array("asap_accepted_audiences", { "*" });
	self.require_room_claim = ctx:get_option_boolean("asap_require_room_claim", true);
	self.domain_verification = ctx:get_option_boolean("enable_domain_verification", true);
	-- The domain a token's sub must name: the VirtualHost whose options these are
	-- (Jitsi's plugin checks the room's address against conference.<sub>).
	self.domain_base = ctx.host;

	if self.app_id == nil then
		module:log("error", "'app_id' must not be empty");
		return nil;
	end
	if not hmac_digests[self.algorithm] then
		module:log("error", "signature_algorithm %s is not supported by this stand-in (HS256/384/512 only)", self.algorithm);
		return nil;
	end
	if self.app_secret == nil then
		module:log("error", "'app_secret' must be specified");
		return nil;
	end
	if self.allow_empty_token then
		module:log("warn", "empty tokens allowed (allow_empty_token = true)");
	end
	return self;
end

local function in_list(value, list)
	for _, accepted in ipairs(list) do
		if accepted == "*" or accepted == value then return true; end
	end
	return false;
end

local function decode_part(part)
	local raw = basexx.from_url64(part);
	if not raw then return nil; end
	local value = json.decode(raw);
	if type(value) ~= "table" then return nil; end
	return value;
end

-- Returns the claims of a valid token, or nil and the reason.
function Util:verify_token(token)
	local h64, p64, s64 = token:match("^([^.]+)%.([^.]+)%.([^.]*)$");
	if not h64 then return nil, "Invalid token"; end

	local header = decode_part(h64);
	if not header then return nil, "Invalid header"; end
	local claims = decode_part(p64);
	if not claims then return nil, "Invalid body"; end
	local signature = basexx.from_url64(s64);
	if not signature then return nil, "Invalid signature"; end

	if header.typ ~= "JWT" then return nil, "Invalid typ"; end
	if header.alg ~= self.algorithm then return nil, "Invalid or incorrect alg"; end

	local expected = hmac.new(self.app_secret, hmac_digests[self.algorithm]):final(h64 .. "." .. p64);
	if signature ~= expected then return nil, "Invalid signature"; end

	local now = os.time();
	if claims.exp ~= nil then
		if type(claims.exp) ~= "number" then return nil, "exp must be number"; end
		if now >= claims.exp then
			return nil, ("Not acceptable by exp (%d sec since expired)"):format(now - claims.exp);
		end
	end
	if claims.nbf ~= nil then
		if type(claims.nbf) ~= "number" then return nil, "nbf must be number"; end
		if now < claims.nbf then return nil, "Not acceptable by nbf"; end
	end

	if claims.iss == nil then return nil, "'iss' claim is missing"; end
	if not in_list(claims.iss, self.accepted_issuers) then return nil, "invalid 'iss' claim"; end
	if claims.aud == nil then return nil, "'aud' claim is missing"; end
	if not in_list(claims.aud, self.accepted_audiences) then return nil, "invalid 'aud' claim"; end
	if self.require_room_claim and claims.room == nil then return nil, "'room' claim is missing"; end
	if claims.sub == nil then return nil, "sub claim is missing"; end
	return claims;
end

-- Verifies session.auth_token and stores its claims on the session (the same
-- fields Jitsi's plugins use). Returns true, or false, condition, text.
function Util:process_and_verify_token(session)
	if session.auth_token == nil then
		if self.allow_empty_token then return true; end
		return false, "not-allowed", "token required";
	end
	local claims, err = self:verify_token(session.auth_token);
	if not claims then
		module:log("info", "token refused: %s", err);
		return false, "not-allowed", err;
	end
	module:log("debug", "token accepted: %s", inspect(claims, { newline = " ", indent = "" }));
	session.jitsi_meet_room = claims.room;
	session.jitsi_meet_domain = claims.sub;
	local context = type(claims.context) == "table" and claims.context or {};
	session.jitsi_meet_context_user = context.user;
	session.jitsi_meet_context_group = context.group;
	session.jitsi_meet_context_features = context.features;
	session.jitsi_meet_context_room = context.room;
	return true;
end

-- True when the token on `session` allows joining `room_jid`.
-- Rooms of tenants look like "[tenant]room@conference.<domain>".
-- A session without a token has no room claim: it passes with
-- allow_empty_token, or when enable_domain_verification is off, or when
-- asap_require_room_claim is off; otherwise it is refused like a token
-- whose room does not match.
function Util:verify_room(session, room_jid)
	if session.auth_token == nil and self.allow_empty_token then return true; end
	local node = jid.split(room_jid);
	if not node then return true; end
	node = node:lower();
	local tenant, room = node:match("^%[([^%]]+)%](.+)$");
	room = room or node;

	local room_claim = session.jitsi_meet_room;
	if room_claim == nil then
		return not self.domain_verification or not self.require_room_claim;
	end
	if room_claim ~= "*" and (type(room_claim) ~= "string" or room_claim:lower() ~= room) then
		return false;
	end
	if not self.domain_verification then return true; end

	local sub = session.jitsi_meet_domain;
	if sub == "*" then return true; end
	if type(sub) ~= "string" then return false; end
	if tenant then return sub:lower() == tenant; end
	return self.domain_base ~= nil and sub:lower() == self.domain_base:lower();
end

return Util;
