// A real OpenID provider for mailguard's sign-in tests: panva/oidc-provider (OpenID
// certified), on 127.0.0.1, with its own login page. The accounts and clients come
// from a JSON file (argv[2]) that is read again at every login and claims lookup, so
// a test can take someone out of a group, or remove them, by rewriting it.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const configPath = process.argv[2];
const read = () => JSON.parse(readFileSync(configPath, 'utf8'));
const initial = read();
const issuer = `http://127.0.0.1:${initial.port}`;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: 'test-key' };

function account(username) {
  return read().accounts.find((a) => a.username === username);
}

const provider = new Provider(issuer, {
  clients: initial.clients.map((c) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...c,
  })),
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  // The claims go in the ID token itself, as Entra ID puts them.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const found = account(id);
    if (!found) return undefined;
    return {
      accountId: id,
      async claims() {
        const now = account(id) || found;
        return {
          sub: id,
          email: now.email,
          email_verified: true,
          name: now.name,
          preferred_username: now.username,
          groups: now.groups || [],
        };
      },
    };
  },
});

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(res, uid, error) {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head>
<body><h1>Sign in to Northdown test provider</h1>
${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}">
<label>Username <input name="login" autocomplete="username"></label>
<label>Password <input name="password" type="password"></label>
<button type="submit">Sign in</button></form></body></html>`);
}

async function formOf(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params, session } = details;
  if (prompt.name === 'login') {
    if (req.method !== 'POST') return loginPage(res, uid);
    const form = await formOf(req);
    const found = account(form.get('login'));
    if (!found || found.password !== form.get('password')) {
      return loginPage(res, uid, 'Invalid username or password');
    }
    return provider.interactionFinished(req, res, { login: { accountId: found.username } }, {
      mergeWithLastSubmission: false,
    });
  }
  // Consent is given at once: the council's own app, as an admin would pre-approve it.
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const missing = prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, { consent: { grantId } }, {
    mergeWithLastSubmission: true,
  });
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => {
      console.error(err);
      res.writeHead(500);
      res.end(String(err.message || err));
    });
    return;
  }
  callback(req, res);
});
server.listen(initial.port, '127.0.0.1', () => console.log('ready'));
