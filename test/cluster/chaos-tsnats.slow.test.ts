// Bounded chaos seeds against a 3-node tsnats cluster: R3 stream and consumer under every fault kind (see chaos-ci.ts).
import { chaosCiSuite } from './chaos-ci.js';

chaosCiSuite('tsnats');
