// SPDX-License-Identifier: GPL-2.0-only
// The dashboard in a real headless browser (Debian's chromium driven by
// playwright-core) against a running controller:
//   node dashboard.js --url URL --user U --password P --deny PREFIX
//                     [--edge ID]... [--bad-deny PREFIX] [--remove yes]
//                     [--service ADDR:PORT:BACKEND] [--rotate yes]
// Checks, in order: anonymous API reads and writes are refused (401); the
// page shows the login form and a wrong password's error; after login the
// edges (--edge: each one connected) and their traffic charts appear; a deny
// added through the form shows in the list and in /api/state; an invalid
// prefix is refused with the API's error shown next to the form; with
// --remove yes, the deny's remove button takes it out of /api/state again;
// with --service, a UDP service added through its form (named, A2S cached)
// is in /api/state,
// port 0 is refused with the API's reason, and its remove button takes it
// out again; with --rotate yes, the rotate button gives a new A2S key id;
// after logout the API refuses again. Prints one "ok: ..." line per check; exits
// non-zero on the first failure. Bounded: every wait has a timeout and the
// whole run a deadline.
'use strict';

const path = require('path');
const { chromium } = require(path.join(__dirname, 'node_modules', 'playwright-core'));

const DEADLINE_MS = 60000;
const WAIT_MS = 10000;

function parseArgs(argv) {
	const a = { edge: [], 'bad-deny': '198.18.0.0/40',
		chromium: process.env.KM_CHROMIUM || '/usr/bin/chromium' };
	for (let i = 2; i < argv.length; i += 2) {
		const k = argv[i].replace(/^--/, '');
		const v = argv[i + 1];
		if (v === undefined)
			throw new Error(`${argv[i]} needs a value`);
		if (k === 'edge')
			a.edge.push(v);
		else
			a[k] = v;
	}
	for (const k of ['url', 'user', 'password', 'deny'])
		if (!a[k])
			throw new Error(`--${k} is required`);
	return a;
}

function ok(what) {
	console.log(`ok: ${what}`);
}

function check(cond, what) {
	if (!cond)
		throw new Error(what);
	ok(what);
}

// fetch from inside the page: the browser's cookies, the page's origin.
function pageFetch(page, method, url, body) {
	return page.evaluate(async ([method, url, body]) => {
		const opt = { method, credentials: 'same-origin', headers: {} };
		if (body !== null) {
			opt.headers['Content-Type'] = 'application/json';
			opt.body = body;
		}
		const r = await fetch(url, opt);
		return { status: r.status, text: await r.text() };
	}, [method, url, body]);
}

async function main() {
	const a = parseArgs(process.argv);
	const base = a.url.replace(/\/$/, '');

	// Anonymous clients (no cookie, no token) get nothing.
	let r = await fetch(base + '/api/edges');
	check(r.status === 401, `anonymous GET /api/edges is refused (HTTP ${r.status})`);
	r = await fetch(base + '/api/state');
	check(r.status === 401, `anonymous GET /api/state is refused (HTTP ${r.status})`);
	r = await fetch(base + '/api/deny', { method: 'POST',
		headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ prefix: a.deny }) });
	check(r.status === 401, `anonymous POST /api/deny is refused (HTTP ${r.status})`);
	r = await fetch(base + '/api/edges', { headers: { Authorization: 'Bearer not-a-token' } });
	check(r.status === 401, `a wrong bearer token is refused (HTTP ${r.status})`);

	const browser = await chromium.launch({
		executablePath: a.chromium,
		headless: true,
		// No sandbox: the test runs as root, where chromium refuses its
		// own; the page is our own dashboard on loopback.
		args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
		timeout: WAIT_MS,
	});
	try {
		const page = await browser.newPage();
		page.setDefaultTimeout(WAIT_MS);
		const pageErrors = [];
		page.on('pageerror', (e) => pageErrors.push(e.message));
		// The dashboard must be self-contained: any request to another
		// origin (a CDN, a font) is a failure.
		const foreign = [];
		page.on('request', (req) => {
			if (!req.url().startsWith(base + '/') && !req.url().startsWith('data:'))
				foreign.push(req.url());
		});

		await page.goto(base + '/');
		await page.locator('#login-form').waitFor({ state: 'visible' });
		check(await page.locator('#app-view').isHidden(),
			'the login form is shown and no edge data before login');
		r = await pageFetch(page, 'GET', '/api/edges', null);
		check(r.status === 401, 'the page itself cannot read /api/edges before login');

		await page.fill('#login-user', a.user);
		await page.fill('#login-password', a.password + '-wrong');
		await page.click('#login-form button[type=submit]');
		await page.locator('#login-error').filter({ hasText: /\S/ }).waitFor();
		check(await page.locator('#app-view').isHidden(),
			`a wrong password is refused: "${await page.textContent('#login-error')}"`);

		await page.fill('#login-password', a.password);
		await page.click('#login-form button[type=submit]');
		await page.locator('#app-view').waitFor({ state: 'visible' });
		ok('logged in');

		for (const id of a.edge) {
			const row = page.locator(`#edges tbody tr[data-edge="${id}"]`);
			await row.locator('td.status').filter({ hasText: 'connected' })
				.filter({ hasNotText: 'disconnected' }).waitFor();
			ok(`edge ${id} listed as connected`);
			const canvas = page.locator(`canvas[data-edge="${id}"]`);
			await canvas.waitFor();
			// Painted: the chart drew something (axes at least).
			const painted = await canvas.evaluate((c) => {
				const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
				for (let i = 3; i < d.length; i += 4)
					if (d[i])
						return true;
				return false;
			});
			check(painted, `edge ${id} has a traffic chart drawn`);
		}

		// A deny through the form: listed on the page and in the API.
		await page.fill('#deny-form input[name=prefix]', a.deny);
		await page.click('#deny-form button[type=submit]');
		await page.locator(`#deny li[data-prefix="${a.deny}"]`).waitFor();
		ok(`deny ${a.deny} added through the form is listed`);
		r = await pageFetch(page, 'GET', '/api/state', null);
		check(r.status === 200, 'GET /api/state after login');
		const st = JSON.parse(r.text);
		const denies = (st.deny || []).map((p) => (typeof p === 'string' ? p : p.prefix));
		check(denies.includes(a.deny), `/api/state lists deny ${a.deny} (version ${st.version})`);

		// An invalid prefix: refused, the API's reason shown by the form.
		const before = st.version;
		await page.fill('#deny-form input[name=prefix]', a['bad-deny']);
		await page.click('#deny-form button[type=submit]');
		const err = page.locator('#deny-form .error').filter({ hasText: /\S/ });
		await err.waitFor();
		const errText = (await err.textContent()).trim();
		check(/prefix/i.test(errText),
			`invalid deny ${a['bad-deny']} refused, the form shows: "${errText}"`);
		r = await pageFetch(page, 'GET', '/api/state', null);
		check(JSON.parse(r.text).version === before,
			'the refused deny changed nothing (same state version)');

		if (a.remove === 'yes') {
			await page.click(`#deny li[data-prefix="${a.deny}"] button.del`);
			await page.locator(`#deny li[data-prefix="${a.deny}"]`)
				.waitFor({ state: 'detached' });
			r = await pageFetch(page, 'GET', '/api/state', null);
			const left = (JSON.parse(r.text).deny || [])
				.map((p) => (typeof p === 'string' ? p : p.prefix));
			check(!left.includes(a.deny),
				`deny ${a.deny} removed with its button, gone from /api/state`);
			// Back, for the caller's checks on the edges.
			await page.fill('#deny-form input[name=prefix]', a.deny);
			await page.click('#deny-form button[type=submit]');
			await page.locator(`#deny li[data-prefix="${a.deny}"]`).waitFor();
		}

		if (a.service) {
			const [addr, port, backend] = a.service.split(':');
			const inState = async () => {
				const x = await pageFetch(page, 'GET', '/api/state', null);
				return (JSON.parse(x.text).services || []).some((v) =>
					v.addr === addr && Number(v.port) === Number(port) &&
					v.backend === backend && v.name === 'web-test' &&
					Boolean(v.a2s));
			};
			const form = '#service-form';
			await page.fill(`${form} input[name=addr]`, addr);
			await page.fill(`${form} input[name=port]`, '0');
			await page.fill(`${form} input[name=backend]`, backend);
			await page.click(`${form} button[type=submit]`);
			const serr = page.locator(`${form} .error`).filter({ hasText: /\S/ });
			await serr.waitFor();
			const serrText = (await serr.textContent()).trim();
			check(/port/i.test(serrText),
				`service on port 0 refused, the form shows: "${serrText}"`);
			await page.fill(`${form} input[name=port]`, port);
			await page.fill(`${form} input[name=name]`, 'web-test');
			await page.check(`${form} input[name=a2s]`);
			await page.click(`${form} button[type=submit]`);
			await page.locator(`${form} .error`).filter({ hasText: /^$/ }).waitFor();
			check(await inState(), `service udp ${addr}:${port} added through the form is in /api/state`);
			const row = page.locator('#services tbody tr', { hasText: addr })
				.filter({ hasText: port });
			await row.locator('button.del').click();
			await row.waitFor({ state: 'detached' });
			check(!(await inState()), `service udp ${addr}:${port} removed with its button`);
		}

		if (a.rotate === 'yes') {
			const key = async () => JSON.parse(
				(await pageFetch(page, 'GET', '/api/a2s/key', null)).text).key_id;
			const k0 = await key();
			await page.click('#rotate-form button[type=submit]');
			await page.locator('#a2s-key').filter({ hasText: `key ${k0 + 1},` }).waitFor();
			check(await key() === k0 + 1, `the rotate button made A2S key ${k0 + 1} current`);
		}

		// Writes without Content-Type: application/json are refused (the
		// CSRF guard), even with a valid session.
		r = await page.evaluate(async (prefix) => {
			const res = await fetch('/api/deny', { method: 'POST',
				credentials: 'same-origin',
				headers: { 'Content-Type': 'text/plain' },
				body: JSON.stringify({ prefix }) });
			return res.status;
		}, '198.18.99.0/24');
		check(r >= 400 && r < 500, `a write without JSON content type is refused (HTTP ${r})`);

		await page.click('#logout');
		await page.locator('#login-form').waitFor({ state: 'visible' });
		r = await pageFetch(page, 'GET', '/api/edges', null);
		check(r.status === 401, 'after logout /api/edges is refused again');

		check(pageErrors.length === 0,
			`no script errors in the page${pageErrors.length ? ': ' + pageErrors.join('; ') : ''}`);
		check(foreign.length === 0,
			`no request left the controller${foreign.length ? ': ' + foreign.join(' ') : ''}`);
	} finally {
		await browser.close();
	}
}

const deadline = setTimeout(() => {
	console.error(`FAIL: dashboard test still running after ${DEADLINE_MS / 1000} s`);
	process.exit(1);
}, DEADLINE_MS);
main().then(() => {
	clearTimeout(deadline);
	console.log('dashboard: all checks passed');
}, (e) => {
	console.error(`FAIL: ${e.message}`);
	process.exit(1);
});
