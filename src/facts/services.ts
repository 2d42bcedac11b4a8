// The services a token change touches, in the order they restart: Prosody
// first, then the components that log in to it.
export const SERVICES = ['prosody', 'jicofo', 'jitsi-videobridge2'] as const;
export type ServiceName = (typeof SERVICES)[number];
