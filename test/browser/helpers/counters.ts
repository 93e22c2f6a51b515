// Counts GPU buffers, textures, bind groups and maps independently of the library's own bookkeeping,
// by wrapping the WebGPU prototypes. Imported first by the harness, before any device exists.
const buffers = new Set<GPUBuffer>();
const textures = new Set<GPUTexture>();
export const counters = { buffersCreated: 0, texturesCreated: 0, bindGroupsCreated: 0, mapAsyncCalls: 0 };
if (typeof GPUDevice !== 'undefined') {
  const createBuffer = GPUDevice.prototype.createBuffer;
  GPUDevice.prototype.createBuffer = function (this: GPUDevice, d: GPUBufferDescriptor) {
    const b = createBuffer.call(this, d);
    buffers.add(b);
    counters.buffersCreated++;
    return b;
  };
  const destroy = GPUBuffer.prototype.destroy;
  GPUBuffer.prototype.destroy = function (this: GPUBuffer) {
    buffers.delete(this);
    return destroy.call(this);
  };
  const createTexture = GPUDevice.prototype.createTexture;
  GPUDevice.prototype.createTexture = function (this: GPUDevice, d: GPUTextureDescriptor) {
    const t = createTexture.call(this, d);
    textures.add(t);
    counters.texturesCreated++;
    return t;
  };
  const destroyTexture = GPUTexture.prototype.destroy;
  GPUTexture.prototype.destroy = function (this: GPUTexture) {
    textures.delete(this);
    return destroyTexture.call(this);
  };
  const createBindGroup = GPUDevice.prototype.createBindGroup;
  GPUDevice.prototype.createBindGroup = function (this: GPUDevice, d: GPUBindGroupDescriptor) {
    counters.bindGroupsCreated++;
    return createBindGroup.call(this, d);
  };
  const mapAsync = GPUBuffer.prototype.mapAsync;
  GPUBuffer.prototype.mapAsync = function (this: GPUBuffer, ...args: Parameters<GPUBuffer['mapAsync']>) {
    counters.mapAsyncCalls++;
    return mapAsync.apply(this, args);
  };
}

export const liveBuffers = () => buffers.size;
export const liveTextures = () => textures.size;
export const liveLabels = () => [...buffers].map((b) => b.label);
