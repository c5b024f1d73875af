export * from './protocol.ts';
export * from './signing.ts';
export * from './Root.ts';
export * from './Proxy.ts';
export * from './Client.ts';
export * from './Worker.ts';
export { compileAll, compileContract, type ContractCodes } from '../compile.ts';
