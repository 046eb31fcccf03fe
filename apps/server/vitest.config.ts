import { sessionsProject } from '../../vitest.shared.ts';

export default sessionsProject(import.meta.dirname);
