-- jitsi-jwt test bed stand-in for Jitsi's mod_muc_meeting_id: gives every room a
-- meeting id when it is created. The stock conference MUC lists this module; the
-- stand-in keeps that config loadable without Jitsi's plugins.
local uuid_gen = require "util.uuid".generate;

module:hook("muc-room-created", function (event)
    event.room._data.meetingId = uuid_gen();
end);
