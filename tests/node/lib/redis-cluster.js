// A small Redis Cluster on loopback for tests: `masters` redis-server processes with
// cluster mode on (no replicas), joined with `redis-cli --cluster create`.

import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { redisCommand, startRedis, waitForAsync } from './harness.js'

const run = promisify(execFile)

/** Starts the nodes and joins them. Returns {nodes, seeds (comma-separated URLs), stop()}. */
export async function startRedisCluster ({ masters = 3, timeoutMs = 30000 } = {}) {
  const nodes = []
  const stop = async () => { await Promise.all(nodes.map((n) => n.stop())) }
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(await startRedis({
        extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000'],
        portBelow: 55536
      }))
    }
    const cli = process.env.REDIS_CLI_BIN || 'redis-cli'
    await run(cli, ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
      { timeout: timeoutMs })
    await waitForAsync({
      what: 'every cluster node reports cluster_state:ok',
      probe: async () => {
        const infos = await Promise.all(nodes.map((n) => redisCommand(n.port, ['CLUSTER', 'INFO'])))
        return { ok: infos.every((i) => String(i).includes('cluster_state:ok')), infos }
      },
      timeoutMs
    })
  } catch (err) {
    await stop()
    throw err
  }
  return { nodes, seeds: nodes.map((n) => n.url).join(','), stop }
}
