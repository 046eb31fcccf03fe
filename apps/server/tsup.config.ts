import { sessionsTsup } from '../../tsup.shared.ts';

export default sessionsTsup({ bins: ['src/bin.ts'] });
