// Helpers for the replicated stream / consumer tests on in-process clusters.
import { waitFor } from './cluster-helpers.js';
import { metaOf, type JsNode } from './js-meta-own-helpers.js';

/** Placement of R3 needs every server in the meta group and its placement info known to the leader. */
export async function waitPlacement(nodes: JsNode[]): Promise<void> {
  await waitFor(() => nodes.every((n) => {
    const m = metaOf(n);
    if (m.node.peers().length !== nodes.length) return false;
    const all = new Set(m.node.peers());
    return m.peerInfo.placementPeers(m.id, all, m.onlinePeers(), (id) => m.serverNameOf(id)).filter((p) => p.stats && p.cluster).length === nodes.length;
  }), 'every server placeable', 30_000);
}

