// server.properties for one combined broker+controller node of a local test cluster.
// Tuned for tests on one small machine, not for production (which runs a real cluster).

/** Ports and ids of the nodes of a cluster whose first broker listens on `port`. */
export function layout({ port, controllerPort, brokers, host }) {
  return Array.from({ length: brokers }, (_, i) => ({ id: i + 1, host, port: port + i, controllerPort: controllerPort + i }));
}

/** `security`: securitySetup()'s extra listeners and settings (security.js), when asked for. */
export function nodeProperties({ node, nodes, dataDir, security }) {
  // One node: internal topics can only have one replica. Three nodes: three replicas with two
  // in sync, so killing any one node still leaves offsets and transactions writable — the case
  // the failover tests exercise.
  const replicas = nodes.length >= 3 ? 3 : 1;
  const minIsr = nodes.length >= 3 ? 2 : 1;
  const voters = nodes.map((n) => `${n.id}@${n.host}:${n.controllerPort}`).join(',');
  const secured = security ? security.listeners(node) : [];
  const settings = {
    'process.roles': 'broker,controller',
    'node.id': node.id,
    'listeners': [`PLAINTEXT://${node.host}:${node.port}`, `CONTROLLER://${node.host}:${node.controllerPort}`, ...secured].join(','),
    'advertised.listeners': [`PLAINTEXT://${node.host}:${node.port}`, ...secured].join(','),
    'inter.broker.listener.name': 'PLAINTEXT',
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL',
    'controller.quorum.voters': voters,
    'log.dirs': dataDir,
    'num.partitions': 1,
    'default.replication.factor': replicas,
    'offsets.topic.replication.factor': replicas,
    // Fewer partitions than the default 50: the first consumer group or transaction then does
    // not wait for fifty partitions to be created.
    'offsets.topic.num.partitions': 10,
    'transaction.state.log.replication.factor': replicas,
    'transaction.state.log.min.isr': minIsr,
    'transaction.state.log.num.partitions': 10,
    'share.coordinator.state.topic.replication.factor': replicas,
    'share.coordinator.state.topic.min.isr': minIsr,
    'group.initial.rebalance.delay.ms': 0,
    'auto.create.topics.enable': false,
    // A killed node is fenced (and its partitions get new leaders) after ~6 s instead of 9 s.
    'broker.heartbeat.interval.ms': 500,
    'broker.session.timeout.ms': 6000,
    'num.network.threads': 2,
    'num.io.threads': 4,
    ...security?.settings,
  };
  return Object.entries(settings).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
}
