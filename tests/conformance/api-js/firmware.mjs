// particle-api-js@12.0.3 against a Bulwark server: product firmware and releases, with binaries built by the real
// binary-version-reader@3.1.3 (firmwareTestHelper.createFirmwareBinary).
// Usage: node firmware.mjs <baseUrl>   (exit code 0 = every check passed)
// particle-api-js has no group methods, so groups and the impact preview go through its generic post/get (the same
// request path, auth and error handling); everything else uses the named methods.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Particle = require('particle-api-js');
const { firmwareTestHelper, ModuleInfo } = require('binary-version-reader');
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
const username = `firmware-${unique}@example.com`;
await particle.createUser({ username, password });
const auth = (await particle.login({ username, password })).body.access_token;

const PLATFORM = 13; // Boron
const created = await particle.post({ uri: '/v1/user/products', auth,
  data: { product: { name: `Firmware ${unique}`, platform_id: PLATFORM } } });
const product = created.body.product.id;
step('create a user and a Boron product');

const binary = (productVersion, extra = {}) => firmwareTestHelper.createFirmwareBinary({
  productId: product,
  productVersion,
  platformId: PLATFORM,
  moduleFunction: ModuleInfo.FunctionType.USER_PART,
  deps: [{ func: ModuleInfo.FunctionType.SYSTEM_PART, index: 1, version: 6200 }],
  dataSize: 4096,
  ...extra,
});
const v1 = binary(1);
const v2 = binary(2);

// uploadProductFirmware: multipart, the file in a part named `file` (api-js's name for the first file).
const up1 = await particle.uploadProductFirmware({ product, auth, file: v1, version: 1, title: 'First', description: 'made by api-js' });
assert.ok([200, 201].includes(up1.statusCode), `upload status ${up1.statusCode}`);
for (const key of ['_id', 'version', 'title', 'description', 'name', 'size', 'product_default', 'groups', 'uploaded_on', 'product_id', 'uploaded_by', 'device_count']) {
  assert.ok(key in up1.body, `uploadProductFirmware answer has ${key}`);
}
assert.equal(up1.body.version, 1);
assert.equal(up1.body.title, 'First');
assert.equal(up1.body.size, v1.length);
assert.equal(up1.body.product_default, false);
assert.deepEqual(up1.body.groups, []);
assert.equal(up1.body.product_id, product);
await particle.uploadProductFirmware({ product, auth, file: v2, version: 2, title: 'Second' });
step('uploadProductFirmware (POST /v1/products/:p/firmware, multipart)');

// Refusals: the version in the binary differs, a version uploaded twice, another platform, another product.
const mismatch = await expectHttpError(particle.uploadProductFirmware({ product, auth, file: binary(3), version: 4, title: 'Mismatch' }), 400);
assert.match(mismatch.body.error_description ?? mismatch.body.error ?? '', /version/i);
await expectHttpError(particle.uploadProductFirmware({ product, auth, file: v2, version: 2, title: 'Again' }), 409);
await expectHttpError(particle.uploadProductFirmware({ product, auth, file: binary(5, { platformId: 6 }), version: 5, title: 'Photon' }), 400);
await expectHttpError(particle.uploadProductFirmware({ product, auth, file: binary(5, { productId: product + 1 }), version: 5, title: 'Other' }), 400);
step('uploadProductFirmware refuses a wrong version, a duplicate, another platform and another product');

const listed = await particle.listProductFirmware({ product, auth });
assert.deepEqual(listed.body.map((f) => f.version), [1, 2]);
const got = await particle.getProductFirmware({ product, auth, version: 2 });
assert.equal(got.body.title, 'Second');
const edited = await particle.updateProductFirmware({ product, auth, version: 2, title: 'Second, edited', description: 'edited' });
assert.equal(edited.body.title, 'Second, edited');
assert.equal((await particle.getProductFirmware({ product, auth, version: 2 })).body.description, 'edited');
await expectHttpError(particle.getProductFirmware({ product, auth, version: 99 }), 404);
step('listProductFirmware, getProductFirmware, updateProductFirmware');

const downloaded = await particle.downloadProductFirmware({ product, auth, version: 1 });
assert.ok(Buffer.from(downloaded).equals(v1), 'downloadProductFirmware returns the uploaded bytes');
step('downloadProductFirmware returns the uploaded bytes');

// Groups (generic calls) and the impact preview.
const group = await particle.post({ uri: `/v1/products/${product}/groups`, auth, data: { name: 'beta', description: 'early adopters', color: '#00aaff' } });
assert.equal(group.body.group.name, 'beta');
const groups = await particle.get({ uri: `/v1/products/${product}/groups`, auth });
assert.deepEqual(groups.body.groups.map((g) => g.name), ['beta']);
const impact = await particle.get({ uri: `/v1/products/${product}/impact`, auth,
  query: { action: 'edit_groups_for_firmware', firmware_version: 2, groups: 'beta' } });
assert.equal(impact.body.devices.firmware_update.total, 0);
step('groups and the impact preview (generic post/get)');

// releaseProductFirmware: to a group, then as the product default.
const toGroup = await particle.releaseProductFirmware({ product, auth, version: 2, groups: ['beta'], intelligent: false });
assert.equal(toGroup.statusCode, 200);
assert.deepEqual(toGroup.body.groups, ['beta']);
assert.equal(toGroup.body.product_default, false);
const asDefault = await particle.releaseProductFirmware({ product, auth, version: 1, product_default: true });
assert.equal(asDefault.body.product_default, true);
const after = (await particle.listProductFirmware({ product, auth })).body;
assert.equal(after.find((f) => f.version === 1).product_default, true);
assert.deepEqual(after.find((f) => f.version === 2).groups, ['beta']);
const moved = await particle.releaseProductFirmware({ product, auth, version: 2, product_default: true });
assert.equal(moved.body.product_default, true);
assert.equal((await particle.getProductFirmware({ product, auth, version: 1 })).body.product_default, false);
await expectHttpError(particle.releaseProductFirmware({ product, auth, version: 99, product_default: true }), 404);
await expectHttpError(particle.releaseProductFirmware({ product, auth, version: 1, groups: ['nope'] }), 400);
step('releaseProductFirmware to a group and as the product default (one default at a time)');

// Delete: a released version is kept, an unreleased one goes.
await expectHttpError(particle.delete({ uri: `/v1/products/${product}/firmware/1`, auth }), 400);
await particle.uploadProductFirmware({ product, auth, file: binary(3), version: 3, title: 'Third' });
await particle.delete({ uri: `/v1/products/${product}/firmware/3`, auth });
assert.deepEqual((await particle.listProductFirmware({ product, auth })).body.map((f) => f.version), [1, 2]);
step('delete an unreleased version; a released one is refused');

// Another user sees none of it.
const stranger = `stranger-${unique}@example.com`;
await particle.createUser({ username: stranger, password });
const strangerAuth = (await particle.login({ username: stranger, password })).body.access_token;
const denied = await expectHttpError(particle.listProductFirmware({ product, auth: strangerAuth }), 403).catch(async () =>
  expectHttpError(particle.listProductFirmware({ product, auth: strangerAuth }), 404));
assert.ok([403, 404].includes(denied.statusCode));
step('another user cannot list the product firmware');

console.log('all particle-api-js firmware checks passed');
