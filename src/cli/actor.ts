// Who ran a CLI command, for the events it records: "cli:<unix user>". Run
// through sudo, the user who invoked sudo is named too, since root alone
// says nothing about who it was.
import { userInfo } from 'node:os';

export function cliActor(env: NodeJS.ProcessEnv = process.env, user: () => string = () => userInfo().username): string {
  let name: string;
  try {
    name = user();
  } catch {
    // A uid with no passwd entry (a bare container) still has a number.
    name = `uid ${process.getuid?.() ?? '?'}`;
  }
  const sudoBy = env.SUDO_USER;
  return sudoBy && sudoBy !== name ? `cli:${name} (sudo by ${sudoBy})` : `cli:${name}`;
}
