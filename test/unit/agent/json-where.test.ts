import { describe, expect, test } from '@jest/globals';
import { jsonSyntaxProblem, jsonWhere } from '../../../handler/agent/json-where.js';

describe('jsonSyntaxProblem: where a JSON text goes wrong, never what it says', () => {
  test.each([
    ['{"a": }', 1, 7, /a value/],
    ['{"a": 1,}', 1, 9, /property name/],
    ['{"a" 1}', 1, 6, /":"/],
    ['{"a": 1', 1, 8, /"}", but the text ends/],
    ['{\n  "a": 1\n  "b": 2\n}', 3, 3, /"," or "}"/],
    ['[1, 2] x', 1, 8, /end of the text/],
    ['{"a": "line\nbreak"}', 1, 7, /string closed/],
    ["{'a': 1}", 1, 2, /property name/],
    ['', 1, 1, /the text ends/],
  ])('%j', (text, line, column, expected) => {
    const p = jsonSyntaxProblem(text)!;
    expect(p).toMatchObject({ line, column });
    expect(p.expected).toMatch(expected);
  });

  test('valid JSON of any depth, as JSON.parse takes it', () => {
    for (const t of ['{}', '[]', ' {"a": [1, -2.5e3, true, false, null, "x\\u00e9\\n"]} ', '"s"', '0', '[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]']) {
      expect(() => JSON.parse(t)).not.toThrow();
      expect(jsonSyntaxProblem(t)).toBeUndefined();
    }
    expect(jsonSyntaxProblem('['.repeat(200_000))?.expected).toMatch(/text ends/);
  });

  test('the message never quotes the text', () => {
    expect(jsonWhere('{"password": "hunter2" "x": 1}')).toBe(' at line 1, column 24 (expected "," or "}")');
  });
});
