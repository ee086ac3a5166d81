// The page's one script and its stylesheet, served from memory: no build
// step, and they ship inside dist/ with the rest of the code.
export const APP_JS = String.raw`'use strict';
(function () {
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var page = document.body.dataset.page;
  var flash = document.getElementById('flash');
  var live = document.getElementById('live');
  function say(text, bad) { flash.textContent = text; flash.className = bad ? 'bad' : 'good'; }
  function ago(ms) {
    var s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    return s < 120 ? s + ' s ago' : s < 7200 ? Math.round(s / 60) + ' min ago' : (s / 3600).toFixed(1) + ' h ago';
  }
  setInterval(function () {
    document.querySelectorAll('[data-since]').forEach(function (el) { if (el.dataset.since) el.textContent = ago(Number(el.dataset.since)); });
  }, 5000);
  function post(url, body) {
    return fetch(url, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify(body || {}) })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error(j.message || r.statusText); return j; }); });
  }
  document.addEventListener('click', function (ev) {
    var b = ev.target.closest('button[data-action]');
    if (!b) return;
    var node = b.dataset.node;
    var base = node ? '/api/nodes/' + encodeURIComponent(node) : '';
    if (b.dataset.action === 'reimage') {
      var box = b.parentNode.querySelector('input[data-destroy-etcd]');
      var destroyEtcd = !!(box && box.checked);
      if (!confirm('Reimage ' + node + '? Its install disk is wiped and Talos is installed afresh.'
        + (destroyEtcd ? ' If it is the last etcd member, the cluster\'s state is destroyed and bootstrapped again.' : ''))) return;
      post(base + '/reimage', { reason: 'requested from the web page', destroyEtcd: destroyEtcd }).then(function (j) {
        say(j.reset === 'sent' ? node + ': Talos accepted Reset; it is wiping and will reinstall.'
          : node + ': marked for reimage. The Talos API did not take the reset: power-cycle the node and it installs afresh.');
      }, function (e) { say(node + ': ' + e.message, true); });
    } else if (b.dataset.action === 'power') {
      var action = b.dataset.power;
      var pxeBox = document.querySelector('input[data-power-pxe]');
      var pxe = !!(pxeBox && pxeBox.checked) && (action === 'on' || action === 'cycle');
      if ((action === 'off' || action === 'cycle') && !confirm((action === 'off' ? 'Power off ' : 'Power-cycle ') + node + '? It stops at once, without shutting down.')) return;
      b.disabled = true;
      say(node + ': asking its BMC (' + action + ')…');
      post(base + '/power', pxe ? { action: action, pxe: true } : { action: action }).then(function (j) {
        say(node + ': ' + j.message + (j.state ? ' (now ' + j.state + ')' : ''));
      }, function (e) { say(node + ': ' + e.message, true); }).then(function () { b.disabled = false; });
    } else if (b.dataset.action === 'plan' || b.dataset.action === 'apply-config') {
      // day2-config: the plan is Talos's own dry-run diff (redacted); apply sends the inventory's config with mode AUTO.
      var out = document.getElementById('day2-plan');
      if (b.dataset.action === 'apply-config' && !confirm('Send ' + node + ' the inventory\'s config? Talos applies it in place when it can, else the node reboots.')) return;
      b.disabled = true;
      say(node + (b.dataset.action === 'plan' ? ': asking Talos for a dry run…' : ': applying…'));
      var req = b.dataset.action === 'plan'
        ? fetch(base + '/plan', { credentials: 'same-origin' }).then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error(j.message || r.statusText); return j; }); })
        : post(base + '/apply');
      req.then(function (j) {
        if (b.dataset.action === 'plan') {
          var c = j.config;
          out.textContent = c.rejected ? 'Rejected by Talos: ' + c.rejected : c.error ? c.error : c.unchanged || c.desiredSha256 === c.appliedSha256 ? 'The config is up to date.'
            : 'Talos would apply it ' + (c.mode === 'NO_REBOOT' ? 'without a reboot' : 'with a reboot') + ':\n' + (c.diff || '');
          out.hidden = false;
          say(node + ': plan ready.');
        } else {
          say(node + ': ' + j.kind + (j.mode ? ' (Talos chose ' + j.mode + ')' : '') + (j.reason ? ': ' + j.reason : ''), j.kind !== 'applied' && j.kind !== 'unchanged');
        }
      }, function (e) { say(node + ': ' + e.message, true); }).then(function () { b.disabled = false; });
    } else if (b.dataset.action === 'cancel') {
      post(base + '/reimage/cancel').then(function () { say(node + ': reimage cancelled.'); }, function (e) { say(node + ': ' + e.message, true); });
    } else if (b.dataset.action === 'rollout') {
      var op = b.dataset.op;
      post('/api/rollout/' + op).then(function () { say(op === 'pause' ? 'Rollout pauses before its next node.' : 'Rollout resumed; the daemon continues it.'); },
        function (e) { say('Rollout: ' + e.message, true); });
    } else if (b.dataset.action === 'logout') {
      post('/logout').then(function () { location.href = '/login'; }, function () { location.href = '/login'; });
    }
  });
  if (page === 'login' || !window.EventSource) return;
  var nodeEl = document.getElementById('node');
  var nodesEl = document.getElementById('nodes');
  var url = '/api/stream' + (nodeEl ? '?node=' + encodeURIComponent(nodeEl.dataset.node) : nodesEl ? nodesEl.dataset.query : '');
  var es = new EventSource(url);
  es.onopen = function () { live.textContent = 'live'; live.className = 'good'; };
  es.onerror = function () { live.textContent = 'reconnecting…'; live.className = 'bad'; };
  es.addEventListener('fragments', function (e) {
    var f = JSON.parse(e.data);
    Object.keys(f).forEach(function (id) { var el = document.getElementById(id); if (el) el.innerHTML = f[id]; });
  });
  es.addEventListener('console', function (e) {
    var line = JSON.parse(e.data);
    var list = document.getElementById('console');
    var empty = list.querySelector('.console-empty');
    if (empty) list.removeChild(empty);
    var li = document.createElement('li');
    if (line.source === 'sol') {
      var src = document.createElement('span');
      src.className = 'src';
      src.title = 'Serial-over-LAN through the BMC';
      src.textContent = 'sol';
      li.className = 'sol';
      li.appendChild(src);
      li.appendChild(document.createTextNode(' '));
    }
    li.appendChild(document.createTextNode(line.msg));
    list.appendChild(li);
    while (list.children.length > 1000) list.removeChild(list.firstChild);
    li.scrollIntoView({ block: 'nearest' });
  });
})();
`;

export const STYLE_CSS = `
:root { --fg:#1d2330; --muted:#667085; --bg:#f4f6f9; --card:#fff; --line:#dde2ea; --accent:#2457c5; --bad:#b42318; --good:#067647; --warn:#b54708; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
header { display:flex; gap:1rem; align-items:center; padding:.6rem 1rem; background:#151b2b; color:#fff; flex-wrap:wrap; }
header a { color:#fff; text-decoration:none; } .brand { font-weight:700; font-size:1.1rem; }
header nav { display:flex; gap:1rem; flex:1; }
main { max-width:1400px; margin:0 auto; padding:1rem; }
footer { text-align:center; padding:1rem; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:1rem; margin-bottom:1rem; min-width:0; }
.card h2 { margin:0 0 .6rem; font-size:1.05rem; }
.grid { display:grid; grid-template-columns:1fr 1fr; gap:1rem; } .grid > .card { margin-bottom:0; } .grid { margin-bottom:1rem; }
.table-wrap { overflow-x:auto; }
table { border-collapse:collapse; width:100%; } th, td { text-align:left; padding:.45rem .5rem; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:.8rem; text-transform:uppercase; letter-spacing:.03em; color:var(--muted); }
td.last-event { max-width:18rem; overflow-wrap:anywhere; }
code { font-family:ui-monospace, Menlo, Consolas, monospace; font-size:.88em; } .wrap { overflow-wrap:anywhere; }
.muted { color:var(--muted); } .small { font-size:.82rem; } .ok, .good { color:var(--good); } .warn { color:var(--warn); } .bad { color:var(--bad); }
.state { display:inline-block; padding:.1rem .5rem; border-radius:999px; font-size:.82rem; font-weight:600; background:#eef2f6; white-space:nowrap; }
.state-ready { background:#dcfae6; color:#067647; } .state-installed { background:#e0eaff; color:#1849a9; }
.state-failed { background:#fee4e2; color:#b42318; } .state-reimage-pending, .state-wiping { background:#fef0c7; color:#93370d; }
.state-booting, .state-maintenance, .state-configuring, .state-installing { background:#f4ebff; color:#6941c6; }
.power { display:inline-block; padding:0 .45rem; border-radius:4px; font-size:.82rem; font-weight:600; background:#eef2f6; }
.power-on { background:#dcfae6; color:#067647; } .power-off { background:#eef2f6; color:#344054; } .power-unknown { background:#fef0c7; color:#93370d; }
.bmc-fault { color:var(--bad); font-size:.82rem; margin-top:.2rem; max-width:22rem; overflow-wrap:anywhere; }
.power-actions button { margin:0 .2rem .3rem 0; }
.facts { display:grid; grid-template-columns:max-content 1fr; gap:.2rem .8rem; margin:0 0 .6rem; } .facts dt { color:var(--muted); } .facts dd { margin:0; }
#hardware h3 { font-size:.95rem; margin:.8rem 0 .3rem; }
.failed-text { color:var(--bad); font-size:.85rem; margin-top:.3rem; max-width:26rem; }
.badge { display:inline-block; padding:0 .4rem; border-radius:4px; background:#eef2f6; font-size:.78rem; } .badge.warn { background:#fef0c7; }
button, .button { font:inherit; padding:.35rem .8rem; border-radius:6px; border:1px solid var(--accent); background:var(--accent); color:#fff; cursor:pointer; text-decoration:none; display:inline-block; }
button.secondary { background:#fff; color:var(--fg); border-color:var(--line); } button.danger { background:#fff; color:var(--bad); border-color:var(--bad); }
.error-box { background:#fef3f2; border:1px solid #fecdca; color:var(--bad); padding:.6rem .8rem; border-radius:6px; }
.error-box ul { margin:.4rem 0 0; padding-left:1.2rem; }
.facts { display:grid; grid-template-columns:max-content 1fr; gap:.3rem 1rem; margin:0; } .facts dt { color:var(--muted); } .facts dd { margin:0; min-width:0; }
.snippet { background:#0f1729; color:#e6edf7; padding:.8rem; border-radius:6px; overflow-x:auto; }
ol.console { list-style:none; font:12px/1.4 ui-monospace, monospace; background:#0f1729; color:#d0e0f0; padding:.6rem; border-radius:6px; max-height:28rem; overflow:auto; margin:0; white-space:pre-wrap; overflow-wrap:anywhere; }
ol.events { list-style:none; padding-left:0; margin:0; max-height:28rem; overflow:auto; } ol.events li { margin-bottom:.3rem; overflow-wrap:anywhere; } ol.events time { color:var(--muted); font-size:.8rem; }
#flash:empty { display:none; } #flash { max-width:1400px; margin:.8rem auto 0; padding:.5rem 1rem; border-radius:6px; background:#ecfdf3; }
#flash.bad { background:#fef3f2; }
.login { max-width:26rem; margin:3rem auto; } .login input { width:100%; font:inherit; padding:.5rem; margin:.3rem 0 .8rem; border:1px solid var(--line); border-radius:6px; }
.counts { display:flex; flex-wrap:wrap; gap:.4rem; margin-bottom:.6rem; } .counts a.count { padding:.15rem .6rem; border-radius:999px; background:#eef2f6; color:var(--fg); text-decoration:none; font-size:.85rem; } .counts a.active { outline:2px solid var(--accent); }
#filter { display:flex; flex-wrap:wrap; gap:.6rem; align-items:center; margin-bottom:.6rem; } #filter select, #filter input { font:inherit; padding:.3rem; border:1px solid var(--line); border-radius:6px; margin-left:.3rem; }
.pager { display:flex; flex-wrap:wrap; gap:.8rem; margin-top:.6rem; align-items:center; }
ol.stages { list-style:none; display:grid; grid-template-columns:repeat(6, minmax(0, 1fr)); gap:2px; margin:0; padding:0; min-width:20rem; }
.nowrap { white-space:nowrap; } .clamp { display:-webkit-box; -webkit-line-clamp:2; -webkit-box-orient:vertical; overflow:hidden; }
td.progress { width:24rem; }
ol.stages li { min-width:0; padding:.1rem .2rem; font-size:.7rem; line-height:1.2; border-top:6px solid #e4e7ec; color:var(--muted); white-space:nowrap; overflow:hidden; }
ol.stages .st-name { display:block; overflow:hidden; text-overflow:ellipsis; } ol.stages .st-time { display:block; color:var(--fg); }
ol.stages .st-done { border-top-color:#32d583; } ol.stages .st-current { border-top-color:#7a5af8; font-weight:600; } ol.stages .st-failed { border-top-color:var(--bad); color:var(--bad); } ol.stages .st-skipped { border-top-color:#a6f4c5; }
ol.console li.console-empty { color:#98a2b3; font-style:italic; }
ol.console li.sol { color:#b8c7d9; }
ol.console li.sol span.src { color:#0f1729; background:#f5c26b; border-radius:3px; padding:0 .3em; font-size:11px; }
pre.config { background:#0f1729; color:#e6edf7; padding:.8rem; border-radius:6px; overflow:auto; max-height:32rem; font-size:12px; }
@media (max-width: 760px) {
  .grid { grid-template-columns:1fr; }
  main { padding:.5rem; }
  table.cards thead { display:none; }
  table.cards tr { display:block; border-bottom:2px solid var(--line); padding:.4rem 0; }
  table.cards td { display:block; position:relative; border:0; padding:.15rem .3rem .15rem 7rem; min-height:1.6rem; overflow-wrap:anywhere; }
  table.cards td::before { content:attr(data-label); position:absolute; left:.3rem; width:6.3rem; color:var(--muted); font-size:.8rem; padding-top:.1rem; }
  td.last-event { max-width:none; }
  ol.stages { min-width:0; } td.progress { width:auto; } .nowrap { white-space:normal; } .failed-text { max-width:none; }
}
`;

/** A rack with one lit unit, 16×16; SVG, so a few hundred bytes and no binary in the repo. */
export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect x="1" y="1" width="14" height="14" rx="2" fill="#151b2b"/><rect x="3" y="3.5" width="10" height="2" fill="#667085"/><rect x="3" y="7" width="10" height="2" fill="#32d583"/><rect x="3" y="10.5" width="10" height="2" fill="#667085"/></svg>`;
