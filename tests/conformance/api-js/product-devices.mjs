// particle-api-js@12.0.3 against a Bulwark server: addDeviceToProduct, listDevices with product, removeDevice with
// product (remove, and deny).
// Usage: node product-devices.mjs <baseUrl> <token> <product> <deviceA> <deviceB>   (exit code 0 = every check passed)
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Particle = require('particle-api-js');
const [baseUrl, auth, product, deviceA, deviceB] = process.argv.slice(2);
assert.ok(baseUrl && auth && product && deviceA && deviceB, 'pass the server URL, a token, a product and two device IDs');
const particle = new Particle({ baseUrl });
const step = (name) => console.log(`ok - ${name}`);

const added = await particle.addDeviceToProduct({ deviceId: deviceA, product, auth });
assert.equal(added.statusCode, 200);
assert.deepEqual(added.body.updatedDeviceIds, [deviceA]);
for (const key of ['existingDeviceIds', 'nonmemberDeviceIds', 'invalidDeviceIds']) {
  assert.deepEqual(added.body[key], [], key);
}
step('addDeviceToProduct with an id');

const again = await particle.addDeviceToProduct({ deviceId: deviceA, product, auth });
assert.deepEqual(again.body.existingDeviceIds, [deviceA]);
step('addDeviceToProduct reports an existing member');

const fromFile = await particle.addDeviceToProduct({ file: Buffer.from(`${deviceB}\n`, 'utf8'), product, auth });
assert.deepEqual(fromFile.body.updatedDeviceIds, [deviceB]);
step('addDeviceToProduct with a file');

const list = await particle.listDevices({ product, auth, sortAttr: 'deviceId', perPage: 10, page: 1 });
assert.equal(list.statusCode, 200);
const ids = list.body.devices.map((d) => d.id);
assert.deepEqual(ids, [deviceA, deviceB].sort());
assert.equal(list.body.devices[0].product_id, Number(product));
assert.equal(list.body.devices[0].quarantined, false);
assert.equal(typeof list.body.meta.total_pages, 'number');
step('listDevices with product');

const denied = await particle.removeDevice({ deviceId: deviceA, product, deny: true, auth });
assert.equal(denied.statusCode, 204);
step('removeDevice with product and deny');

const removed = await particle.removeDevice({ deviceId: deviceB, product, auth });
assert.equal(removed.statusCode, 204);
step('removeDevice with product');

const after = await particle.listDevices({ product, auth });
assert.deepEqual(after.body.devices, []);
step('listDevices after removal is empty');

console.log('all particle-api-js product device checks passed');
