-- jitsi-jwt test bed: stand-in for Jitsi's token/util.lib.lua (shared JWT
-- verification for mod_auth_token and mod_token_verification), written by us
-- from Jitsi's documented contract. Not Jitsi's code.
--
-- Loaded with module:require "token/util", so `module` below is the module
-- that loaded it. It needs the same Lua libraries as Jitsi's token code; on a
-- host without them the requiring module fails to load with Prosody's usual
-- "module 'X' not found" error, which is what the product under test fixes.
--
-- Two ways to check a token's signature, chosen by the VirtualHost's options:
--   * app_secret: a shared secret, HS256 by default;
--   * asap_key_server = "<base URL>": public keys, RS256 by default. Every
--     token then needs a `kid` header; its key is fetched once from
--     <base>/<lowercase hex sha256(kid)>.pem (an SPKI "BEGIN PUBLIC KEY" PEM)
--     and kept for as long as Prosody runs. app_secret is not used for logins
--     when a key server is set.

local basexx = require "basexx";            -- lua-basexx
local json = require "cjson.safe";          -- lua-cjson
local hmac = require "openssl.hmac";        -- lua-luaossl
local digest = require "openssl.digest";    -- lua-luaossl
local pkey = require "openssl.pkey";        -- lua-luaossl
local inspect = require "inspect";          -- lua-inspect
local _ssl = require "ssl";                 -- lua-sec (Jitsi's token code loads it too)
local jid = require "util.jid";
local async = require "util.async";
local http = require "net.http";
local timer = require "util.timer";
local sha256 = require "util.hashes".sha256;
local new_cache = require "util.cache".new;

-- The digest behind each signature_algorithm Jitsi accepts.
local digests = {
	HS256 = "sha256", HS384 = "sha384", HS512 = "sha512",
	RS256 = "sha256", RS384 = "sha384", RS512 = "sha512",
};

-- Key fetches: 30 s per attempt, 3 more attempts after a timeout.
local http_timeout = 30;
local http_retries = 3;
local user_agent = ("Prosody (%s; %s)"):format(tostring(prosody.version), tostring(prosody.platform));
local pubkey_cache_size = module:get_option_number("jwt_pubkey_cache_size", 128);

local Util = {};
Util.__index = Util;

-- Reads the token options through `ctx` (a module or a module:context(host)).
-- Returns nil after logging an error when the configuration cannot work.
function Util.new(ctx)
	local self = setmetatable({}, Util);
	self.app_id = ctx:get_option_string("app_id");
	self.app_secret = ctx:get_option_string("app_secret");
	self.key_server = ctx:get_option_string("asap_key_server");
	self.allow_empty_token = ctx:get_option_boolean("allow_empty_token", false);
	self.algorithm = ctx:get_option_string("signature_algorithm",
		self.key_server and "RS256" or "HS256");
	self.accepted_issuers = ctx:get_option_array("asap_accepted_issuers", { self.app_id });
	self.accepted_audiences = ctx:get_option_array("asap_accepted_audiences", { "*" });
	self.require_room_claim = ctx:get_option_boolean("asap_require_room_claim", true);
	self.domain_verification = ctx:get_option_boolean("enable_domain_verification", true);
	-- The domain a token's sub must name: the VirtualHost whose options these are
	-- (Jitsi's plugin checks the room's address against conference.<sub>).
	self.domain_base = ctx.host;
	-- Public keys by kid (the PEM as served); no expiry, only LRU eviction.
	self.public_keys = new_cache(pubkey_cache_size);

	if self.allow_empty_token then
		module:log("warn", "empty tokens allowed (allow_empty_token = true)");
	end
	if self.app_id == nil then
		module:log("error", "'app_id' must not be empty");
		return nil;
	end
	if self.app_secret == nil and self.key_server == nil then
		module:log("error", "'app_secret' or 'asap_key_server' must be specified");
		return nil;
	end
	if not digests[self.algorithm] then
		module:log("warn", "signature_algorithm %s is not supported: every token will be refused", self.algorithm);
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

-- GETs `url` from inside the session's async runner and waits for the reply.
-- Returns the body of a 200 or 204 reply, or nil. An attempt that gets no
-- reply within http_timeout seconds is retried, but a reply that comes after
-- a timeout is ignored, so once the first attempt has timed out the fetch
-- fails after all retries (about two minutes).
local function fetch(url)
	local wait, done = async.waiter();
	local body, timed_out, finished;
	local request;

	local function on_reply(content, code)
		if timed_out then
			module:log("warn", "External call reply delivered after timeout from: %s", url);
			return;
		end
		if code == 200 or code == 204 then
			body = content;
		else
			module:log("warn", "Error on GET request: Code %s, Content %s", tostring(code), tostring(content));
		end
		finished = true;
		done();
	end
	local function send()
		request = http.request(url, { method = "GET", headers = { ["User-Agent"] = user_agent } }, on_reply);
	end

	local retries_left = http_retries;
	local function on_timeout()
		if finished then return; end
		timed_out = true;
		module:log("warn", "Timeout %d seconds making the external call to: %s", http_timeout, url);
		if http.destroy_request and request then http.destroy_request(request); end
		if retries_left < 1 then
			finished = true;
			done();
			return;
		end
		retries_left = retries_left - 1;
		send();
		return http_timeout;
	end

	send();
	timer.add_task(http_timeout, on_timeout);
	wait();
	return body, timed_out;
end

-- The public key (PEM) for `kid`: from the cache, or fetched from the key
-- server and then cached. Failures are not cached. Returns nil on failure.
function Util:get_public_key(kid)
	local key = self.public_keys:get(kid);
	if key ~= nil then return key; end
	local url = self.key_server .. "/" .. sha256(kid, true) .. ".pem";
	local body, timed_out = fetch(url);
	if body == nil then
		if timed_out then module:log("warn", "Timeout retrieving %s from %s", kid, url); end
		return nil;
	end
	self.public_keys:set(kid, body);
	return body;
end

-- Whether `signature` signs `input` with `key` under self.algorithm. A
-- public key openssl cannot read raises an error, as in Jitsi's plugin: the
-- login then gets no answer and Prosody logs a traceback.
function Util:signature_valid(input, signature, key)
	local digest_name = digests[self.algorithm];
	if self.algorithm:sub(1, 2) == "HS" then
		return signature == hmac.new(key, digest_name):final(input);
	end
	local public_key = pkey.new(key);
	return public_key:verify(signature, digest.new(digest_name):update(input)) == true;
end

-- Returns the claims of a valid token signed with `key`, or nil and the reason.
function Util:verify_token(token, key)
	if not digests[self.algorithm] then return nil, "Algorithm not supported"; end
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
	if not self:signature_valid(h64 .. "." .. p64, signature, key) then
		return nil, "Invalid signature";
	end

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

-- The key that must have signed `token`, or nil and the reason. With a key
-- server, the token's header names the key (kid) and an RS algorithm.
function Util:key_for(token)
	if self.key_server == nil then return self.app_secret; end
	local dot = token:find(".", 1, true);
	if not dot then return nil, "Invalid token"; end
	local header = decode_part(token:sub(1, dot - 1));
	if not header then return nil, "bad token format"; end
	if header.kid == nil then return nil, "'kid' claim is missing"; end
	if header.alg == nil then return nil, "'alg' claim is missing"; end
	if type(header.alg) ~= "string" or header.alg:sub(1, 2) ~= "RS" then
		return nil, "'kid' claim only support with RS family";
	end
	local key = self:get_public_key(tostring(header.kid));
	if key == nil then return nil, "could not obtain public key"; end
	return key;
end

-- Verifies session.auth_token and stores its claims on the session (the same
-- fields Jitsi's plugins use). Returns true, or false, condition, text.
function Util:process_and_verify_token(session)
	local token = session.auth_token;
	if token == nil then
		if self.allow_empty_token then return true; end
		return false, "not-allowed", "token required";
	end
	local key, err = self:key_for(token);
	local claims;
	if key ~= nil then
		claims, err = self:verify_token(token, key);
	end
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
