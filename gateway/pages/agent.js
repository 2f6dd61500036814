// The agent's install page: its words in the person's language, with the switch.
import { apply, pageLang, remember, stored } from "./i18n.js";

let lang = pageLang(stored(), document.documentElement.lang);
const draw = () =>
  apply(document, lang, (l) => {
    lang = l;
    remember(l);
    draw();
  });
draw();
