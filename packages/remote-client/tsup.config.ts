import { sessionsTsup } from '../../tsup.shared.ts';

export default sessionsTsup();
