// Long names in table cells (demographic_parity_difference, fairmine.metrics.make_mi_scorer,
// DonskerVaradhan(steps=10)) may break after an underscore, a dot, "=", "(" or ",", never
// inside a word: a <wbr> marks each such place.
// Copying a name copies it whole: <wbr> adds no character.
document.addEventListener("DOMContentLoaded", () => {
  for (const code of document.querySelectorAll(".md-typeset td code, .md-typeset th code")) {
    const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    const texts = [];
    while (walker.nextNode()) texts.push(walker.currentNode);
    for (const node of texts) {
      const parts = node.textContent.split(/(?<=[_.=(,])(?=\w)/);
      if (parts.length < 2) continue;
      const fragment = document.createDocumentFragment();
      parts.forEach((part, i) => {
        if (i) fragment.appendChild(document.createElement("wbr"));
        fragment.appendChild(document.createTextNode(part));
      });
      node.replaceWith(fragment);
    }
  }
});
