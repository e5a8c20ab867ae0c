/** Entry of the company dashboard (issue 8): Preact, rendered into #app. */
import { render } from 'preact';
import { App } from './app.js';
import './styles.css';

render(<App />, document.getElementById('app')!);
