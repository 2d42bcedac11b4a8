-- jitsi-jwt test bed: stand-in for Jitsi's token/jwk.lib.lua, written by us.
-- Not Jitsi's code.
--
-- Jitsi's newest token plugins ship this file next to token/util.lib.lua and
-- use it to read JSON Web Key Sets from cache_keys_url; older generations have
-- neither the file nor JWKS support. The stand-in util.lib.lua reads JWKS
-- documents only when this file loads, so deleting it from a host's plugin
-- directory turns the stand-in into an older generation.
--
-- jwk_to_pem(jwk) turns an RSA JWK (base64url "n" and "e") into an SPKI
-- "BEGIN PUBLIC KEY" PEM, the form openssl.pkey.new reads. The DER is built
-- here by hand. Like Jitsi's, it looks only at n and e (not kty, alg, use or
-- x5c); a key without them, such as an EC key, gives nil.

local basexx = require "basexx";            -- lua-basexx

-- A DER length: short form below 128, else 0x80 + byte count, then big-endian bytes.
local function der_length(length)
	if length < 0x80 then return string.char(length); end
	local bytes = "";
	while length > 0 do
		bytes = string.char(length % 256) .. bytes;
		length = length // 256;
	end
	return string.char(0x80 + #bytes) .. bytes;
end

local function der(tag, content)
	return string.char(tag) .. der_length(#content) .. content;
end

-- A positive DER INTEGER from unsigned big-endian bytes: leading zero bytes
-- go, and a zero byte comes back in front when the top bit is set.
local function der_unsigned(bytes)
	bytes = bytes:gsub("^%z+", "");
	if bytes == "" then bytes = "\0"; end
	if bytes:byte(1) >= 0x80 then bytes = "\0" .. bytes; end
	return der(0x02, bytes);
end

-- AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }.
local rsa_algorithm = der(0x30, "\6\9\42\134\72\134\247\13\1\1\1" .. "\5\0");

local function decode_url64(value)
	if type(value) ~= "string" or value == "" then return nil; end
	local ok, bytes = pcall(basexx.from_url64, value);
	if not ok or bytes == nil or bytes == "" then return nil; end
	return bytes;
end

local function jwk_to_pem(jwk)
	if type(jwk) ~= "table" then return nil; end
	local n, e = decode_url64(jwk.n), decode_url64(jwk.e);
	if n == nil or e == nil then return nil; end
	local rsa_public_key = der(0x30, der_unsigned(n) .. der_unsigned(e));
	-- The BIT STRING starts with its count of unused bits, 0.
	local spki = der(0x30, rsa_algorithm .. der(0x03, "\0" .. rsa_public_key));
	local b64 = basexx.to_base64(spki);
	local lines = { "-----BEGIN PUBLIC KEY-----" };
	for i = 1, #b64, 64 do
		lines[#lines + 1] = b64:sub(i, i + 63);
	end
	lines[#lines + 1] = "-----END PUBLIC KEY-----";
	return table.concat(lines, "\n") .. "\n";
end

return { jwk_to_pem = jwk_to_pem };
