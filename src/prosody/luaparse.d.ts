// Minimal typings for luaparse 0.3 (the package ships none): only the options
// and node shapes this project reads. Ranges are offsets into the string that
// was parsed; with encodingMode 'pseudo-latin1' that string holds one char per
// byte and string literal values come back the same way.
declare module 'luaparse' {
  export interface Options {
    comments?: boolean;
    ranges?: boolean;
    locations?: boolean;
    scope?: boolean;
    luaVersion?: '5.1' | '5.2' | '5.3' | 'LuaJIT';
    encodingMode?: 'none' | 'pseudo-latin1' | 'x-user-defined';
    extendedIdentifiers?: boolean;
  }

  export interface Position { line: number; column: number }

  export interface BaseNode {
    range: [number, number];
    loc?: { start: Position; end: Position };
  }

  export interface Comment extends BaseNode { type: 'Comment'; value: string; raw: string }
  export interface Identifier extends BaseNode { type: 'Identifier'; name: string }
  export interface StringLiteral extends BaseNode { type: 'StringLiteral'; value: string; raw: string }
  export interface NumericLiteral extends BaseNode { type: 'NumericLiteral'; value: number; raw: string }
  export interface BooleanLiteral extends BaseNode { type: 'BooleanLiteral'; value: boolean; raw: string }
  export interface NilLiteral extends BaseNode { type: 'NilLiteral'; raw: string }

  export interface TableKey extends BaseNode { type: 'TableKey'; key: Expression; value: Expression }
  export interface TableKeyString extends BaseNode { type: 'TableKeyString'; key: Identifier; value: Expression }
  export interface TableValue extends BaseNode { type: 'TableValue'; value: Expression }
  export type TableField = TableKey | TableKeyString | TableValue;
  export interface TableConstructorExpression extends BaseNode {
    type: 'TableConstructorExpression';
    fields: TableField[];
  }

  export interface CallExpression extends BaseNode { type: 'CallExpression'; base: Expression; arguments: Expression[] }
  export interface StringCallExpression extends BaseNode { type: 'StringCallExpression'; base: Expression; argument: StringLiteral }
  export interface TableCallExpression extends BaseNode { type: 'TableCallExpression'; base: Expression; arguments: TableConstructorExpression }

  /** Every other expression kind; this project only needs to know it is there. */
  export interface OtherExpression extends BaseNode {
    type: 'VarargLiteral' | 'BinaryExpression' | 'LogicalExpression' | 'UnaryExpression'
      | 'MemberExpression' | 'IndexExpression' | 'FunctionDeclaration';
  }

  export type Expression = Identifier | StringLiteral | NumericLiteral | BooleanLiteral | NilLiteral
    | TableConstructorExpression | CallExpression | StringCallExpression | TableCallExpression | OtherExpression;

  export interface AssignmentStatement extends BaseNode {
    type: 'AssignmentStatement';
    variables: Expression[];
    init: Expression[];
  }
  export interface CallStatement extends BaseNode {
    type: 'CallStatement';
    expression: CallExpression | StringCallExpression | TableCallExpression;
  }
  export interface OtherStatement extends BaseNode {
    type: 'LabelStatement' | 'BreakStatement' | 'GotoStatement' | 'ReturnStatement' | 'IfStatement'
      | 'WhileStatement' | 'DoStatement' | 'RepeatStatement' | 'LocalStatement' | 'FunctionDeclaration'
      | 'ForNumericStatement' | 'ForGenericStatement';
  }
  export type Statement = AssignmentStatement | CallStatement | OtherStatement;

  export interface Chunk extends BaseNode { type: 'Chunk'; body: Statement[]; comments?: Comment[] }

  /** Thrown for invalid input; index is an offset into the parsed string, column is 0-based. */
  export interface LuaParseSyntaxError extends SyntaxError { index: number; line: number; column: number }

  const luaparse: { parse(input: string, options?: Options): Chunk; version: string };
  export default luaparse;
}
