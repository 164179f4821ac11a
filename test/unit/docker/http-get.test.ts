import { describe, expect, test } from '@jest/globals';
import { parseResponse } from '../../../handler/docker/http-get.js';

// Answers as dockerd (Go's net/http) sends them to an HTTP/1.0 client: no chunking, closed at the end.
describe('a whole HTTP/1.0 answer', () => {
  test('GET /_ping: status, headers in lower case, body', () => {
    const r = parseResponse('HTTP/1.0 200 OK\r\nApi-Version: 1.41\r\nDocker-Experimental: false\r\nContent-Length: 2\r\n\r\nOK');
    expect(r).toEqual({ status: 200, headers: { 'api-version': '1.41', 'docker-experimental': 'false', 'content-length': '2' }, body: 'OK' });
  });
  test('a UTF-8 body survives (the bytes arrive as latin1 text, as httpGet reads them)', () => {
    const wire = Buffer.from('HTTP/1.0 200 OK\r\n\r\n{"Version":"26.1.5+dfsg1","Name":"é"}', 'utf8').toString('latin1');
    expect(parseResponse(wire).body).toBe('{"Version":"26.1.5+dfsg1","Name":"é"}');
  });
  test('nothing, or not HTTP (a TLS port spoken to in plain text closes; a stray service answers garbage)', () => {
    expect(parseResponse('')).toMatchObject({ error: 'connection closed without an answer' });
    expect(parseResponse('\u0015\u0003\u0001\u0000\u0002')).toMatchObject({ error: 'not an HTTP answer' });
    expect(parseResponse('HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n').status).toBe(400);
  });
});
