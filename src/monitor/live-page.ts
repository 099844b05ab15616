// The live cluster view embedded in the index page at `/` of the monitoring port. One static
// block of inline CSS and JS (no CDN, no build step): the browser polls this server's own JSON
// endpoints every second and redraws. The server does no work for it beyond serving the JSON,
// so the page costs nothing while nobody has it open.

/**
 * The live section. `link(p)` gives the relative URL of endpoint `p` as the index page's links
 * use it, so the page works under http_base_path as well.
 */
export function liveSection(link: (p: string) => string): string {
  const urls = JSON.stringify({
    varz: link('/varz'),
    routez: link('/routez'),
    jsz: link('/jsz') + '?streams=1&consumers=1&config=0',
    leafz: link('/leafz'),
  });
  return `<style type="text/css">
		#live { font-size: 14px; margin: 8px 0 24px 7px; max-width: 1100px }
		#live h2 { font-size: 16px; margin: 16px 0 4px }
		#live table { border-collapse: collapse }
		#live td, #live th { padding: 2px 10px 2px 0; text-align: left; vertical-align: top }
		#live th { color: #666; font-weight: 500 }
		#live .muted { color: #999 }
		#live .bad { color: #b00 }
		#live svg { vertical-align: middle }
		#live .spark { stroke: rgb(59 50 202); fill: none; stroke-width: 1.5 }
	</style>
	<div id="live">
	<div id="live-status" class="muted">loading…</div>
	<h2>Servers</h2><div id="live-servers"></div>
	<h2>Message rates</h2><div id="live-rates"></div>
	<h2>Leaf connections</h2><div id="live-leafs"></div>
	<h2>Streams</h2><div id="live-streams"></div>
	</div>
	<script>
(function () {
  var U = ${urls};
  var N = 60; // points kept per chart: one a second, the last minute
  var hist = {}; // series name -> [values]
  var last = {}; // counter name -> previous value, for rates
  function esc(s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function get(u) {
    return fetch(u, { cache: 'no-store' }).then(function (r) { return r.ok ? r.json() : null; }).catch(function () { return null; });
  }
  // Per-second rate of a monotonically increasing counter, recorded into its chart series.
  function rate(key, v) {
    var p = last[key];
    last[key] = v;
    var r = p === undefined || v < p ? 0 : v - p;
    var h = hist[key] || (hist[key] = []);
    h.push(r);
    if (h.length > N) h.shift();
    return r;
  }
  function spark(key) {
    var h = hist[key] || [], w = 120, ht = 24, max = 1;
    h.forEach(function (v) { if (v > max) max = v; });
    var pts = h.map(function (v, i) {
      return (i * w / (N - 1)).toFixed(1) + ',' + (ht - 1 - v * (ht - 2) / max).toFixed(1);
    }).join(' ');
    return '<svg width="' + w + '" height="' + ht + '" data-series="' + esc(key) + '"><polyline class="spark" points="' + pts + '"/></svg>';
  }
  function table(head, rows) {
    if (rows.length === 0) return '<span class="muted">none</span>';
    return '<table><tr>' + head.map(function (h) { return '<th>' + esc(h) + '</th>'; }).join('') + '</tr>' +
      rows.map(function (r) { return '<tr>' + r.map(function (c) { return '<td>' + c + '</td>'; }).join('') + '</tr>'; }).join('') +
      '</table>';
  }
  function replicas(cl) {
    if (!cl) return '<span class="muted">-</span>';
    return (cl.replicas || []).map(function (r) {
      var cls = r.offline || !r.current ? ' class="bad"' : '';
      return '<span' + cls + '>' + esc(r.name) + (r.lag ? ' (lag ' + esc(r.lag) + ')' : '') + (r.offline ? ' offline' : '') + '</span>';
    }).join(', ') || '<span class="muted">-</span>';
  }
  function render(v, rz, j, lz) {
    var me = v ? v.server_name : '?';
    var meta = j && j.meta_cluster ? j.meta_cluster : null;
    var names = {};
    names[me] = { self: true };
    ((rz && rz.routes) || []).forEach(function (r) {
      var n = r.remote_name || r.remote_id;
      if (n) names[n] = names[n] || { route: r };
    });
    (meta && meta.replicas || []).forEach(function (r) { names[r.name] = names[r.name] || {}; names[r.name].meta = r; });
    var rows = Object.keys(names).sort().map(function (n) {
      var x = names[n];
      var role = meta && meta.leader === n ? 'meta leader' : '';
      var state = x.self ? 'this server' : x.meta && x.meta.offline ? '<span class="bad">offline</span>' : 'routed';
      return ['<span class="server-name">' + esc(n) + '</span>', state, esc(role)];
    });
    document.getElementById('live-servers').innerHTML = table(['server', 'state', 'role'], rows) +
      '<div class="muted">cluster ' + esc(v && v.cluster ? v.cluster.name : '-') + ', meta leader ' +
      '<span id="meta-leader">' + esc(meta && meta.leader ? meta.leader : '-') + '</span></div>';
    if (v) {
      rate('in_msgs', v.in_msgs || 0);
      rate('out_msgs', v.out_msgs || 0);
    }
    document.getElementById('live-rates').innerHTML = table(['', 'msgs/s', 'last minute'], [
      ['in', esc(hist.in_msgs ? hist.in_msgs[hist.in_msgs.length - 1] : 0), spark('in_msgs')],
      ['out', esc(hist.out_msgs ? hist.out_msgs[hist.out_msgs.length - 1] : 0), spark('out_msgs')],
    ]);
    document.getElementById('live-leafs').innerHTML = table(['remote', 'account', 'in msgs', 'out msgs'],
      ((lz && lz.leafs) || []).map(function (l) {
        return [esc((l.name || '') + ' ' + l.ip + ':' + l.port), esc(l.account), esc(l.in_msgs), esc(l.out_msgs)];
      }));
    var srows = [];
    ((j && j.account_details) || []).forEach(function (a) {
      (a.stream_detail || []).forEach(function (s) {
        var key = 'stream:' + a.name + ':' + s.name, st = s.state || {};
        var r = rate(key, st.last_seq || 0);
        srows.push(['<span class="stream-name">' + esc(s.name) + '</span> <span class="muted">' + esc(a.name) + '</span>',
          esc(s.cluster && s.cluster.leader || '-'), replicas(s.cluster), esc(st.messages), esc(r) + ' ' + spark(key)]);
        (s.consumer_detail || []).forEach(function (c) {
          srows.push(['&nbsp;&nbsp;↳ <span class="consumer-name">' + esc(c.name) + '</span>',
            esc(c.cluster && c.cluster.leader || '-'), replicas(c.cluster),
            'pending ' + esc(c.num_pending) + ', ack pending ' + esc(c.num_ack_pending), '']);
        });
      });
    });
    document.getElementById('live-streams').innerHTML = table(['stream / consumer', 'leader', 'replicas', 'messages', 'msgs/s'], srows);
    document.getElementById('live-status').textContent = 'server ' + me + ', updated ' + new Date().toLocaleTimeString();
  }
  function tick() {
    Promise.all([get(U.varz), get(U.routez), get(U.jsz), get(U.leafz)]).then(function (r) {
      render(r[0], r[1], r[2], r[3]);
    }).catch(function (e) {
      document.getElementById('live-status').textContent = 'error: ' + e;
    }).then(function () { setTimeout(tick, 1000); });
  }
  tick();
})();
	</script>`;
}
