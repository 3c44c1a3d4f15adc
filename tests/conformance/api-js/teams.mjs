// particle-api-js@12.0.3 against a Bulwark server: products, teams and API users.
// Usage: node teams.mjs <baseUrl>   (exit code 0 = every check passed)
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Particle = require('particle-api-js');
const baseUrl = process.argv[2] ?? process.env.BULWARK_URL;
assert.ok(baseUrl, 'pass the server URL');
const particle = new Particle({ baseUrl });

const step = (name) => console.log(`ok - ${name}`);
const expectHttpError = async (promise, status) => {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.statusCode, status, `expected HTTP ${status}, got ${e.statusCode}: ${e.message}`);
    return e;
  }
  assert.fail(`expected HTTP ${status}, the call succeeded`);
};

const unique = `${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
const password = `conformance passphrase ${Math.random().toString(36).slice(2)}`;
const signUp = async (name) => {
  const username = `${name}-${unique}@example.com`;
  await particle.createUser({ username, password });
  const login = await particle.login({ username, password });
  return { username, token: login.body.access_token };
};
const owner = await signUp('owner');
const teammate = await signUp('teammate');

// particle-cli's createProduct: POST /v1/user/products {product: {...}}.
const created = await particle.post({ uri: '/v1/user/products', auth: owner.token,
  data: { product: { name: `Conformance ${unique}`, platform_id: 13, description: 'made by particle-api-js' } } });
const product = created.body.product;
assert.equal(typeof product.id, 'number');
assert.equal(product.platform_id, 13);
assert.match(product.slug, /^conformance-/);
step('create a product (POST /v1/user/products)');

const listed = await particle.listProducts({ auth: owner.token });
assert.ok(Array.isArray(listed.body.products));
const item = listed.body.products.find((p) => p.id === product.id);
assert.ok(item, 'the new product is listed');
for (const key of ['id', 'platform_id', 'name', 'slug', 'description', 'user', 'groups', 'settings', 'device_protection']) {
  assert.ok(key in item, `listProducts item has ${key}`);
}
assert.equal(item.user, owner.username);
assert.equal(item.settings.quarantine, true);
assert.equal(typeof item.settings.known_application.opt_in, 'boolean');
step('listProducts (GET /v1/products) has ProductInfo fields');

for (const idOrSlug of [product.id, product.slug]) {
  const got = await particle.getProduct({ product: idOrSlug, auth: owner.token });
  assert.equal(got.body.product.id, product.id);
  assert.equal(got.body.product.name, product.name);
}
step('getProduct by id and by slug');

const invited = await particle.inviteTeamMember({ username: teammate.username, product: product.id, auth: owner.token });
assert.equal(invited.body.ok, true);
step('inviteTeamMember (role defaults to Developer)');

// API user: the documented body {friendly_name, scopes}; the token is shown once.
const apiUser = await particle.post({ uri: `/v1/products/${product.id}/team`, auth: owner.token,
  data: { friendly_name: 'conformance robot', scopes: ['products:get', 'devices:list'] } });
assert.equal(apiUser.body.ok, true);
assert.equal(apiUser.body.created.is_programmatic, true);
assert.match(apiUser.body.created.username, /^conformance-robot\+[a-z0-9]+@api\.particle\.io$/);
const robotToken = apiUser.body.created.tokens[0].token;
assert.ok(robotToken);
step('create an API user (POST .../team {friendly_name, scopes})');

const team = await particle.listTeamMembers({ product: product.slug, auth: owner.token });
assert.equal(team.body.ok, true);
const members = Object.fromEntries(team.body.team.map((m) => [m.username, m]));
assert.equal(members[owner.username].role.name, 'Owner');
assert.equal(members[teammate.username].role.name, 'Developer');
assert.equal(members[teammate.username].no_mfa, true);
const robot = members[apiUser.body.created.username];
assert.equal(robot.is_programmatic, true);
assert.equal(robot.friendly_name, 'conformance robot');
assert.deepEqual(robot.scopes, ['products:get', 'devices:list']);
assert.equal(robot.product_id, product.id);
step('listTeamMembers (people with role and no_mfa, the API user with scopes)');

const robotView = await particle.getProduct({ product: product.id, auth: robotToken });
assert.equal(robotView.body.product.id, product.id);
await expectHttpError(particle.listTeamMembers({ product: product.id, auth: robotToken }), 403);
const refusal = await expectHttpError(particle.getUserInfo({ auth: robotToken }), 403);
assert.equal(refusal.body.error, 'unauthorized');
assert.equal(refusal.body.error_description, 'API users are not allowed to call this endpoint');
step('the API user token does its scopes, nothing else, and no user endpoints');

const removed = await particle.removeTeamMember({ username: teammate.username, product: product.id, auth: owner.token });
assert.equal(removed.body.ok, true);
await expectHttpError(particle.getProduct({ product: product.id, auth: teammate.token }), 404);
step('removeTeamMember ends access at once');

console.log('all particle-api-js team checks passed');
