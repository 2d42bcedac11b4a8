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
--     when a key server is set;
--   * cache_keys_url = "<URL>": public keys, RS256 by default, read in the
--     background from one JSON document and kept by kid (see "Keys from
--     cache_keys_url" below). They are looked up before the key server.

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

-- JWK -> PEM conversion, present only in the newest generation of Jitsi's
-- token plugins (token/jwk.lib.lua). Without that file a JWKS document at
-- cache_keys_url gives no keys, as in the older generations.
local jwk_to_pem;
do
	local ok, jwk = pcall(module.require, module, "token/jwk");
	if ok and type(jwk) == "table" then
		jwk_to_pem = jwk.jwk_to_pem;
	else
		module:log("debug", "token/jwk.lib.lua not loaded, JWKS documents are not read: %s", tostring(jwk));
	end
end

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

-- cache_keys_url refreshes: without a Cache-Control max-age every 6 h, 30 s
-- after a failed fetch; a kid that leaves the document is kept for 90 minutes.
local keys_default_refresh = 6 * 3600;
local keys_retry_after_failure = 30;
local keys_grace = 90 * 60;

local Util = {};
Util.__index = Util;

-- Reads the token options through `ctx` (a module or a module:context(host)).
-- Returns nil after logging an error when the configuration cannot work.
function Util.new(ctx)
	local self = setmetatable({}, Util);
	self.app_id = ctx:get_option_string("app_id");
	self.app_secret = ctx:get_option_string("app_secret");
	self.key_server = ctx:get_option_string("asap_key_server");
	self.cache_keys_url = ctx:get_option_string("cache_keys_url");
	self.allow_empty_token = ctx:get_option_boolean("allow_empty_token", false);
	self.algorithm = ctx:get_option_string("signature_algorithm",
		(self.key_server or self.cache_keys_url) and "RS256" or "HS256");
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
	if self.app_secret == nil and self.key_server == nil and self.cache_keys_url == nil then
		-- The text of Jitsi's newest plugins, quotes included.
		module:log("error", "'app_secret', 'asap_key_server or 'cacheKeysUrl' must be specified");
		return nil;
	end
	if not digests[self.algorithm] then
		module:log("warn", "signature_algorithm %s is not supported: every token will be refused", self.algorithm);
	end
	if self.cache_keys_url then self:start_key_refresh(); end
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

-- GETs `url` from inside an async runner (a session's, or the key refresher's)
-- and waits for the reply. Returns the body of a 200 or 204 reply (or nil),
-- whether an attempt timed out, the reply's code and the net.http response
-- (for its headers). An attempt that gets no reply within http_timeout
-- seconds is retried, but a reply that comes after a timeout is ignored, so
-- once the first attempt has timed out the fetch fails after all retries
-- (about two minutes).
local function fetch(url)
	local wait, done = async.waiter();
	local body, timed_out, finished, reply_code, reply;
	local request;

	local function on_reply(content, code, response)
		if timed_out then
			module:log("warn", "External call reply delivered after timeout from: %s", url);
			return;
		end
		reply_code, reply = code, response;
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
	return body, timed_out, reply_code, reply;
end

-- Keys from cache_keys_url.
--
-- A background async runner GETs the URL at load and then again and again,
-- and keeps the keys it finds in self.cached_keys (kid -> SPKI PEM). The
-- document is either
--   * a JWKS, {"keys":[{"kid":..,"n":..,"e":..},..]}: each entry with a kid
--     and RSA n/e becomes a PEM through token/jwk.lib.lua; other entries are
--     skipped; without token/jwk.lib.lua the whole "keys" member is skipped;
--   * a map {kid: "-----BEGIN CERTIFICATE-----.."}: each certificate's public
--     key, through LuaSec. Other values (PEM public keys included) are
--     skipped, as in Jitsi's plugin.
-- Both may share one document. The next fetch comes at max-age - 60 s when
-- Cache-Control gives a max-age above 60, at max-age otherwise (at least
-- 1 s), after 6 h without one, and 30 s after a failure (the keys held so far
-- stay). A kid missing from a successful fetch is kept for 90 minutes from
-- the first fetch that lacked it, then dropped; coming back clears that.

local function certificate_public_key(pem)
	local ok, cert = pcall(_ssl.loadcertificate, pem);
	if not ok or not cert then return nil; end
	local pub_ok, public_key = pcall(cert.pubkey, cert);
	if not pub_ok then return nil; end
	return public_key;
end

-- kid -> PEM for the keys a fetched document holds.
local function keys_from_document(document)
	local found = {};
	if type(document) ~= "table" then return found; end
	for name, value in pairs(document) do
		if name == "keys" and type(value) == "table" then
			if jwk_to_pem then
				for _, jwk in ipairs(value) do
					if type(jwk) == "table" and type(jwk.kid) == "string" then
						found[jwk.kid] = jwk_to_pem(jwk);
					end
				end
			end
		elseif type(name) == "string" and type(value) == "string"
			and value:sub(1, 27) == "-----BEGIN CERTIFICATE-----" then
			found[name] = certificate_public_key(value);
		end
	end
	return found;
end

-- Seconds until the next fetch after a successful one with `response`.
local function refresh_delay(response)
	local cache_control = response and response.headers and response.headers["cache-control"];
	local max_age = cache_control and tonumber(cache_control:lower():match("max%-age%s*=%s*(%d+)"));
	if max_age == nil then return keys_default_refresh; end
	if max_age > 60 then return max_age - 60; end
	return math.max(max_age, 1);
end

-- Takes the keys of one successful fetch; drops kids past their grace.
function Util:store_cached_keys(found)
	local now = os.time();
	for kid, pem in pairs(found) do
		self.cached_keys[kid] = pem;
		self.cached_keys_missing_since[kid] = nil;
	end
	for kid in pairs(self.cached_keys) do
		if found[kid] == nil then
			local since = self.cached_keys_missing_since[kid];
			if since == nil then
				self.cached_keys_missing_since[kid] = now;
			elseif now - since >= keys_grace then
				self.cached_keys[kid] = nil;
				self.cached_keys_missing_since[kid] = nil;
			end
		end
	end
end

-- The PEM cache_keys_url gave for `kid`, unless its grace has run out.
function Util:cached_key(kid)
	if self.cached_keys == nil then return nil; end
	local since = self.cached_keys_missing_since[kid];
	if since ~= nil and os.time() - since >= keys_grace then
		self.cached_keys[kid] = nil;
		self.cached_keys_missing_since[kid] = nil;
	end
	return self.cached_keys[kid];
end

function Util:start_key_refresh()
	self.cached_keys = {};
	self.cached_keys_missing_since = {};
	local url = self.cache_keys_url;
	local refresher;
	refresher = async.runner(function ()
		local body, _, code, response = fetch(url);
		local delay;
		if body ~= nil then
			local document = json.decode(body);
			local found = keys_from_document(document);
			self:store_cached_keys(found);
			delay = refresh_delay(response);
			local count = 0;
			for _ in pairs(found) do count = count + 1; end
			module:log("debug", "%d public keys from %s, next fetch in %d s", count, url, delay);
		else
			module:log("warn", "Failed to retrieve cached public keys code:%s", tostring(code));
			delay = keys_retry_after_failure;
		end
		-- A module timer: it stops when the module is unloaded or reloaded.
		module:add_timer(delay, function () refresher:run(true); end);
	end);
	refresher:run(true);
end

-- The public key (PEM) for `kid`: from cache_keys_url's keys, else from the
-- per-kid cache, else fetched from the key server and then cached. Failures
-- are not cached. Returns nil on failure.
function Util:get_public_key(kid)
	local key = self:cached_key(kid);
	if key ~= nil then return key; end
	-- With cache_keys_url alone there is nowhere else to look. Jitsi's plugin
	-- instead builds a key server URL from nil and raises a Lua error (the
	-- login gets no answer); the stand-in refuses the token cleanly.
	if self.key_server == nil then return nil; end
	key = self.public_keys:get(kid);
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
-- server or cache_keys_url, the token's header names the key (kid) and an RS
-- algorithm.
function Util:key_for(token)
	if self.key_server == nil and self.cache_keys_url == nil then return self.app_secret; end
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
