-- jitsi-jwt test bed stand-in for Jitsi's mod_auth_jitsi-anonymous, the
-- authentication a stock Jitsi domain uses before token auth is switched on:
-- SASL ANONYMOUS, every client gets a random user name.
local new_sasl = require "util.sasl".new;

local provider = {};

function provider.test_password()
    return nil, "Password based auth not supported";
end

function provider.get_password()
    return nil, "Password not available";
end

function provider.set_password()
    return nil, "Password based auth not supported";
end

function provider.user_exists()
    return nil, "Only anonymous users are supported";
end

function provider.create_user()
    return nil, "Account creation/modification not supported";
end

function provider.get_sasl_handler()
    return new_sasl(module.host, {
        anonymous = function()
            return true;
        end;
    });
end

module:provides("auth", provider);
