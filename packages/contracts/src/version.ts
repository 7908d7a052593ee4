/** Curator's release, as the API docs and worker heartbeats report it (stated once, here). */
export const curatorVersion = '0.1.0';
