import { describe, expect, it } from 'vitest';
import { formatBmcAddress, parseBmcAddress } from '../../src/bmc/address.js';

describe('BMC address', () => {
  it('parses each protocol with its default port, a port and a system path', () => {
    expect(parseBmcAddress('ipmi://10.0.0.5')).toEqual({ protocol: 'ipmi', host: '10.0.0.5', port: 623 });
    expect(parseBmcAddress('ipmi://bmc-1.rack.example:6230')).toEqual({ protocol: 'ipmi', host: 'bmc-1.rack.example', port: 6230 });
    expect(parseBmcAddress('redfish://10.0.0.6')).toEqual({ protocol: 'redfish', tls: true, host: '10.0.0.6', port: 443 });
    expect(parseBmcAddress('redfish://[fd00::6]:8443/redfish/v1/Systems/1/')).toEqual({ protocol: 'redfish', tls: true, host: 'fd00::6', port: 8443, systemPath: '/redfish/v1/Systems/1' });
    expect(parseBmcAddress('redfish+http://127.0.0.1:8000')).toEqual({ protocol: 'redfish', tls: false, host: '127.0.0.1', port: 8000 });
    expect(formatBmcAddress(parseBmcAddress('redfish://[fd00::6]/redfish/v1/Systems/S1'))).toBe('redfish://[fd00::6]:443/redfish/v1/Systems/S1');
  });

  it('says what is wrong with a bad address', () => {
    expect(() => parseBmcAddress('http://10.0.0.5')).toThrow(/unknown BMC protocol "http"/);
    expect(() => parseBmcAddress('ipmi://10.0.0.5:70000')).toThrow(/port "70000" is not a number from 1 to 65535/);
    expect(() => parseBmcAddress('ipmi://10.0.0.5/x')).toThrow(/takes no path/);
    expect(() => parseBmcAddress('redfish://10.0.0.5/redfish/v1/Managers/1')).toThrow(/not \/redfish\/v1\/Systems\/ID/);
    expect(() => parseBmcAddress('redfish://bad_host!')).toThrow(/not an IPv4 address/);
    expect(() => parseBmcAddress('ipmi://')).toThrow(/no host/);
    expect(() => parseBmcAddress('10.0.0.5')).toThrow(/is not ipmi:\/\//);
  });
});
