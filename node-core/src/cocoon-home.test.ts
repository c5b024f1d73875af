import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cocoonHome } from './cocoon-home.ts';

describe('cocoonHome: flag > COCOON_HOME > platform default', () => {
  const home = '/home/ada';

  it('takes the flag over the environment, and the environment over the default', () => {
    expect(cocoonHome({ flag: '/data/a', env: { COCOON_HOME: '/data/b' }, home })).toBe('/data/a');
    expect(cocoonHome({ env: { COCOON_HOME: '/data/b' }, home })).toBe('/data/b');
    expect(cocoonHome({ env: {}, platform: 'linux', home })).toBe('/home/ada/.cocoon');
  });

  it('uses ~/.cocoon on Linux and macOS, %LOCALAPPDATA%\\Cocoon on Windows', () => {
    expect(cocoonHome({ env: {}, platform: 'darwin', home })).toBe('/home/ada/.cocoon');
    expect(cocoonHome({ env: { LOCALAPPDATA: 'C:\\Users\\ada\\AppData\\Local' }, platform: 'win32', home: 'C:\\Users\\ada' })).toBe('C:\\Users\\ada\\AppData\\Local\\Cocoon');
    expect(cocoonHome({ env: {}, platform: 'win32', home: 'C:\\Users\\ada' })).toBe('C:\\Users\\ada\\.cocoon');
  });

  it('treats an empty or blank COCOON_HOME as unset, and refuses an empty flag', () => {
    expect(cocoonHome({ env: { COCOON_HOME: '' }, platform: 'linux', home })).toBe('/home/ada/.cocoon');
    expect(cocoonHome({ env: { COCOON_HOME: '   ' }, platform: 'linux', home })).toBe('/home/ada/.cocoon');
    expect(() => cocoonHome({ flag: '', env: { COCOON_HOME: '/data/b' }, home })).toThrow(/--data-dir is empty/);
  });

  it('makes relative paths absolute at once', () => {
    expect(cocoonHome({ flag: 'state', home })).toBe(resolve('state'));
    expect(cocoonHome({ env: { COCOON_HOME: './x' }, home })).toBe(resolve('x'));
  });
});
