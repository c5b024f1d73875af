import { Cell, type Address, type ContractProvider } from '@ton/core';

/** A deployed contract's data cell: nodes read state by parsing it, as the reference does. */
export async function contractData(provider: ContractProvider, address: Address): Promise<Cell> {
  const s = await provider.getState();
  if (s.state.type !== 'active' || !s.state.data) {
    throw new Error(`contract ${address.toString()} is not active (state: ${s.state.type})`);
  }
  return Cell.fromBoc(s.state.data)[0]!;
}
