-- jitsi-jwt test bed stand-in for Jitsi's mod_polls. The stock domain config
-- lists this module; its feature plays no part in token authentication, so the
-- stand-in only makes the stock config loadable without Jitsi's plugins.
module:log("debug", "test bed stand-in for mod_polls loaded on %s", module.host);
