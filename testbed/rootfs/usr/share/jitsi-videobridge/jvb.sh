#!/bin/sh
# Stand-in for Jitsi's jvb.sh: the videobridge stand-in in its place. With
# /etc/jitsi-testbed/die-after-start-jitsi-videobridge2 (empty, or a shell
# condition that holds) it dies half a second after starting.
fault=/etc/jitsi-testbed/die-after-start-jitsi-videobridge2
if [ -e "$fault" ] && { [ ! -s "$fault" ] || sh "$fault" >/dev/null 2>&1; }; then
	sleep 0.5
	exit 1
fi
exec /usr/local/lib/jitsi-testbed/videobridge-standin "$@"
