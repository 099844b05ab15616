// Bounded chaos seeds against a 3-node nats-server 2.9.10 cluster (the reference; see chaos-ci.ts).
import { chaosCiSuite } from './chaos-ci.js';

chaosCiSuite('nats-server');
