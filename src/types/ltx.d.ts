// The part of ltx's element API this project uses (ltx ships no types).
declare module 'ltx' {
  export class Element {
    name: string;
    attrs: Record<string, string>;
    children: Array<Element | string>;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildText(name: string, xmlns?: string): string | null;
    getText(): string;
    toString(): string;
  }
  export function parse(xml: string): Element;
}
