-- jitsi-jwt test bed: stand-in for Jitsi's mod_token_affiliation, written by
-- us from Jitsi's documented contract. Not Jitsi's code.
--
-- Listed in the conference MUC's modules_enabled. An occupant whose token
-- says context.user.moderator = true (or "true") or context.user.affiliation
-- = "owner" / "moderator" becomes an owner (and moderator) when it joins;
-- any other occupant that logged in with a token becomes a member.

local jid = require "util.jid";

local admins = module:get_option_inherited_set("admins", {});

local function affiliation_for(session)
	if not session or session.auth_token == nil then return nil; end
	local user = session.jitsi_meet_context_user;
	if type(user) == "table" then
		if user.moderator == true or user.moderator == "true"
			or user.affiliation == "owner" or user.affiliation == "moderator" then
			return "owner";
		end
	end
	return "member";
end

-- Before the members-only check (-5) and after the token check (99).
module:hook("muc-occupant-pre-join", function(event)
	local room, occupant = event.room, event.occupant;
	if admins:contains(jid.bare(occupant.bare_jid)) then return; end
	local affiliation = affiliation_for(event.origin);
	if not affiliation then return; end
	room:set_affiliation(true, occupant.bare_jid, affiliation);
	if affiliation == "owner" then
		occupant.role = "moderator";
	end
	module:log("debug", "%s joins %s as %s", occupant.bare_jid, room.jid, affiliation);
end, -3.5);
