// The agent gives handlers a minimal environment (no HOME); children get an explicit one so
// apt, systemctl, docker and dockerd behave the same under the agent as in a root shell. Its own
// module: the direct manager needs it without loading execa.
export const BASE_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
};
