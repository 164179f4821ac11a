// Helpers for the schemas every command and the monitor load (HandlerEnvironment.json, the
// monitor's record): those use zod/mini, which adds about 2 MiB to a process where classic zod
// adds 13 MiB and ~50 ms of start-up. The settings schema, loaded only when settings are read,
// stays on classic zod for its error messages.
import * as z from 'zod/mini';

export const nonEmpty = () => z.string().check(z.minLength(1));
